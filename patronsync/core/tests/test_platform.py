"""Institutions, code tables and secrets at rest."""

from __future__ import annotations

import logging

import pytest

from patronsync.core.crypto import SecretValue, decrypt, encrypt
from patronsync.core.models import CodeTableEntry, Institution


@pytest.mark.django_db
def test_fresh_install_has_default_institution_with_standard_code_tables():
    institution = Institution.objects.get(code="main")
    tables = set(
        CodeTableEntry.objects.filter(institution=institution).values_list("table", flat=True)
    )
    assert {"UserGroups", "UserIdentifierTypes", "CountryCodes", "UserPreferredLanguage"} <= tables
    default_language = CodeTableEntry.objects.get(
        institution=institution, table="UserPreferredLanguage", is_default=True
    )
    assert default_language.code == "en"


@pytest.mark.django_db
def test_new_institution_is_seeded_and_rejects_unknown_time_zone():
    from django.core.exceptions import ValidationError

    from patronsync.core.services import institution_create

    branch = institution_create(code="b2", name="B2", time_zone="Europe/Vienna")
    assert CodeTableEntry.objects.filter(institution=branch, table="CountryCodes", code="AUT")
    with pytest.raises(ValidationError, match="time zone"):
        institution_create(code="b3", name="B3", time_zone="Mars/Olympus")


def test_secrets_are_encrypted_and_masked_in_repr(caplog):
    token = encrypt("hunter2")
    assert "hunter2" not in token
    value = SecretValue(decrypt(token))
    assert value == "hunter2"
    logging.getLogger("patronsync").warning("connecting with %r", value)
    assert "hunter2" not in caplog.text
    assert encrypt("") == ""
