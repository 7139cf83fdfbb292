"""Writes on institutions and code tables."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from .models import CodeTableEntry, Institution
from .seeds import seed_code_tables

DEFAULT_INSTITUTION_CODE = "main"


def model_assign(obj: Any, values: dict[str, Any], *, actor: str) -> bool:
    """Set `values` on a configuration object (connection, profile) and validate it.

    Returns True when something differs from what `obj` held (always for a new object); then
    `updated_by` is stamped and `full_clean` run, which raises ValidationError. Saving is left to
    the caller, so that nothing is written when nothing changed.
    """
    is_new = obj.pk is None
    changed = is_new
    for field, value in values.items():
        if is_new or getattr(obj, field) != value:
            setattr(obj, field, value)
            changed = True
    if changed:
        obj.updated_by = actor
        obj.full_clean()
    return changed


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
