"""Writes on institutions and code tables."""

from __future__ import annotations

from django.db import transaction

from .models import CodeTableEntry, Institution
from .seeds import seed_code_tables

DEFAULT_INSTITUTION_CODE = "main"


@transaction.atomic
def institution_create(*, code: str, name: str, time_zone: str = "UTC") -> Institution:
    """Create an institution with Alma's standard code tables."""
    institution = Institution(code=code, name=name, time_zone=time_zone)
    institution.full_clean()
    institution.save()
    seed_code_tables(entry_model=CodeTableEntry, institution=institution)
    return institution


def institution_get_or_create_default() -> Institution:
    """The institution a fresh install starts with (created by migration; recreated if deleted)."""
    institution = Institution.objects.filter(code=DEFAULT_INSTITUTION_CODE).first()
    if institution is None:
        institution = institution_create(code=DEFAULT_INSTITUTION_CODE, name="Main library")
    return institution
