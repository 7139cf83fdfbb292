"""Writes on institutions and code tables."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
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
def institution_create(
    *, code: str, name: str, time_zone: str = "UTC", **settings: Any
) -> Institution:
    """Create an institution with Alma's standard code tables; `settings` are its other fields
    (e.g. the API thresholds), left at their defaults when not given."""
    institution = Institution(code=code, name=name, time_zone=time_zone, **settings)
    institution.full_clean()
    institution.save()
    seed_code_tables(entry_model=CodeTableEntry, institution=institution)
    return institution


CODE_TABLE_ROW_FIELDS = {
    "description": "description",
    "default": "is_default",
    "enabled": "enabled",
}


@transaction.atomic
def code_table_entry_save(*, entry: CodeTableEntry) -> CodeTableEntry:
    """Validate and save a code-table row. A table has at most one default, as in Alma, so a row
    marked default unmarks the table's other default."""
    entry.full_clean()
    entry.save()
    if entry.is_default:
        CodeTableEntry.objects.filter(
            institution_id=entry.institution_id, table=entry.table, is_default=True
        ).exclude(pk=entry.pk).update(is_default=False)
    return entry


def _next_position(*, institution: Institution, table: str) -> int:
    last = (
        CodeTableEntry.objects.filter(institution=institution, table=table)
        .order_by("-position")
        .values_list("position", flat=True)
        .first()
    )
    return 0 if last is None else last + 1


@transaction.atomic
def code_table_entry_add(
    *,
    institution: Institution,
    table: str,
    code: str,
    description: str = "",
    is_default: bool = False,
    enabled: bool = True,
    position: int | None = None,
) -> CodeTableEntry:
    """Add the row `code` to one of `institution`'s code tables; without a `position` it goes
    after the table's last. Raises ValidationError naming the field: a code that is empty, too
    long or already in the table, a description too long, a table patronsync does not know."""
    code = code.strip()
    taken = CodeTableEntry.objects.filter(institution=institution, table=table, code=code)
    if code and taken.exists():
        raise ValidationError({"code": f"Code {code} is already in the code table {table}"})
    entry = CodeTableEntry(
        institution=institution,
        table=table,
        code=code,
        description=description.strip(),
        is_default=is_default,
        enabled=enabled,
        position=_next_position(institution=institution, table=table)
        if position is None
        else position,
    )
    return code_table_entry_save(entry=entry)


def code_table_entry_delete(*, entry: CodeTableEntry) -> None:
    """Delete a code-table row. Users keep the code they hold; a feed or an API call that gives
    it again is refused until the code is back in its table."""
    entry.delete()


def code_table_entry_declare(
    *, institution: Institution, table: str, code: str, values: dict[str, Any]
) -> str:
    """Make the row `table`/`code` of `institution` hold `values` (keys of
    CODE_TABLE_ROW_FIELDS; the ones left out stay as they are, or take the model's defaults for
    a new row). Returns "created", "updated" or "unchanged"; nothing is written when unchanged.
    A new row goes after the table's last. Raises ValidationError for a value the model refuses.
    """
    fields = {CODE_TABLE_ROW_FIELDS[key]: value for key, value in values.items()}
    entry = CodeTableEntry.objects.filter(institution=institution, table=table, code=code).first()
    if entry is None:
        entry = CodeTableEntry(
            institution=institution,
            table=table,
            code=code,
            position=_next_position(institution=institution, table=table),
            **fields,
        )
        code_table_entry_save(entry=entry)
        return "created"
    if all(getattr(entry, field) == value for field, value in fields.items()):
        return "unchanged"
    for field, value in fields.items():
        setattr(entry, field, value)
    code_table_entry_save(entry=entry)
    return "updated"


def institution_get_or_create_default() -> Institution:
    """The institution a fresh install starts with (created by migration; recreated if deleted)."""
    institution = Institution.objects.filter(code=DEFAULT_INSTITUTION_CODE).first()
    if institution is None:
        institution = institution_create(code=DEFAULT_INSTITUTION_CODE, name="Main library")
    return institution
