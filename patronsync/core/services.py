"""Writes on institutions and code tables."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from .models import CodeTableEntry, Institution
from .seeds import seed_code_tables

DEFAULT_INSTITUTION_CODE = "main"

logger = logging.getLogger(__name__)


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


@transaction.atomic
def code_table_entry_update(*, entry: CodeTableEntry, values: dict[str, Any], actor: str) -> bool:
    """Set a row's `values` (keys of CODE_TABLE_ROW_FIELDS, and "position") and save it.

    Returns False, writing nothing, when the row already holds them. The description is
    stripped; marking the row default unmarks the table's other default. Raises ValidationError
    naming the field for a value the model refuses (the row is then left as it was stored).
    `actor` (the staff account) is logged with what changed.
    """
    fields = dict(CODE_TABLE_ROW_FIELDS, position="position")
    wanted = {fields[key]: value for key, value in values.items()}
    if "description" in wanted:
        wanted["description"] = str(wanted["description"]).strip()
    changed = [name for name, value in wanted.items() if getattr(entry, name) != value]
    if not changed:
        return False
    before = {name: getattr(entry, name) for name in changed}
    for name in changed:
        setattr(entry, name, wanted[name])
    try:
        code_table_entry_save(entry=entry)
    except ValidationError:
        for name, value in before.items():
            setattr(entry, name, value)
        raise
    logger.info(
        "code table %s of %s: %s changed %s of code %s",
        entry.table, entry.institution_id, actor, ", ".join(changed), entry.code,
    )  # fmt: skip
    return True


@transaction.atomic
def code_table_entry_add_or_enable(
    *, institution: Institution, table: str, code: str, description: str, actor: str
) -> str:
    """Make `code` usable in one of `institution`'s code tables, as staff do from a job's report
    when its feed used a code the table lacked: add the row (enabled, last), or enable the
    table's disabled row of it, giving it `description` only if it had none (a description
    staff wrote is kept).

    Returns what was done: "added", "enabled", or "was already in the table" for an enabled row
    (someone added it meanwhile; nothing is written). Raises ValidationError naming the field,
    as `code_table_entry_add` does. `actor` (the staff account) is logged with the write.
    """
    entry = CodeTableEntry.objects.filter(institution=institution, table=table, code=code).first()
    if entry is None:
        code_table_entry_add(
            institution=institution, table=table, code=code, description=description
        )
        outcome = "added"
    elif entry.enabled:
        return "was already in the table"
    else:
        values: dict[str, Any] = {"enabled": True}
        if not entry.description:
            values["description"] = description.strip()
        code_table_entry_declare(institution=institution, table=table, code=code, values=values)
        outcome = "enabled"
    logger.info("code table %s of %s: %s %s code %s",
                table, institution.code, actor, outcome, code)  # fmt: skip
    return outcome


def institution_get_or_create_default() -> Institution:
    """The institution a fresh install starts with (created by migration; recreated if deleted)."""
    institution = Institution.objects.filter(code=DEFAULT_INSTITUTION_CODE).first()
    if institution is None:
        institution = institution_create(code=DEFAULT_INSTITUTION_CODE, name="Main library")
    return institution
