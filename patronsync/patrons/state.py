"""Reading and writing single fields of a `Patron` in memory, shared by services and Swap All."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.hashers import make_password

from .fields import CORE_FIELDS, PRIMARY_ID_TYPE, PROTECTED_SEGMENT_KEYS
from .models import Patron


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
