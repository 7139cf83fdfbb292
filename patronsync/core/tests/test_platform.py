"""Institutions, code tables, secrets at rest and the command line."""

from __future__ import annotations

import logging

import pytest

from patronsync.cli import main
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


@pytest.mark.django_db
def test_createadmin_creates_general_system_administrator(capsys, monkeypatch):
    from patronsync.accounts.models import Membership

    monkeypatch.setenv("PATRONSYNC_ADMIN_PASSWORD", "a long password 1")
    assert main(["createadmin", "--username", "boss"]) == 0
    membership = Membership.objects.get(user__username="boss")
    assert membership.role == "GSA"
    assert "a long password 1" not in capsys.readouterr().out
    assert main(["createadmin", "--username", "boss"]) == 1


@pytest.mark.django_db
def test_quickstart_syncs_a_sample_feed_and_a_second_run_updates_it(capsys):
    from patronsync.jobs.models import Job
    from patronsync.patrons.models import Patron

    assert main(["quickstart", "--users", "300"]) == 0
    first = capsys.readouterr().out
    assert "Patron Import Results" in first
    assert "Total users created successfully" in first
    assert Patron.objects.count() == 300
    assert main(["quickstart", "--users", "300"]) == 0
    second_job = Job.objects.order_by("id").last()
    assert second_job.created == 0  # 0.1 % of 300 rounds to no new user
    assert second_job.updated + second_job.unchanged == 300
    assert second_job.unchanged > 250
    assert "exists; password unchanged" in capsys.readouterr().out


@pytest.mark.django_db
def test_django_commands_pass_through(capsys):
    assert main(["check"]) == 0
    assert "no issues" in capsys.readouterr().out
