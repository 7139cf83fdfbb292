"""Reading and writing single fields of a `Patron` in memory, shared by services and Swap All."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.hashers import make_password

from .fields import CORE_FIELDS, PRIMARY_ID_TYPE, PROTECTED_SEGMENT_KEYS
from .models import Patron, identifier_key


def set_core(patron: Patron, name: str, value: Any) -> None:
    if name == "pin_number":
        patron.pin_hash = make_password(value) if value else ""
    elif name == "password":
        if value:  # Alma: an empty password keeps the existing one
            patron.password_hash = make_password(value)
    elif CORE_FIELDS[name].kind == "date" or CORE_FIELDS[name].kind == "bool":
        setattr(patron, name, value)
    else:
        setattr(patron, name, value or "")


def protected_value(patron: Patron, name: str) -> Any:
    if name == "pin_number":
        return patron.pin_hash
    if name in PROTECTED_SEGMENT_KEYS:
        return patron.segments.get(PROTECTED_SEGMENT_KEYS[name], [])
    return getattr(patron, name)


def current_identifiers(patron: Patron) -> list[dict[str, Any]]:
    return [
        {
            "id_type": {"value": i.id_type},
            "value": i.value,
            "note": i.note,
            "status": i.status,
            "segment_type": i.segment_type,
        }
        for i in patron.identifiers.all()
        if i.id_type != PRIMARY_ID_TYPE
    ]


IDENTIFIER_COLUMNS = (
    "institution_id", "patron_id", "id_type", "value", "value_key", "note", "status",
    "segment_type", "position",
)  # fmt: skip


def identifier_rows(patron: Patron, identifiers: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The user's identifier rows (primary ID first) in IDENTIFIER_COLUMNS order."""
    inst, pid = patron.institution_id, patron.id
    rows = [
        (inst, pid, PRIMARY_ID_TYPE, patron.primary_id, identifier_key(patron.primary_id),
         "", "", "External", 0)
    ]  # fmt: skip
    rows += [
        (inst, pid, item["id_type"]["value"], item["value"], identifier_key(item["value"]),
         item.get("note", ""), item.get("status", ""), item.get("segment_type", "External"), n)
        for n, item in enumerate(identifiers, start=1)
    ]  # fmt: skip
    return rows
