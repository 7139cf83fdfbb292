"""Lexical rules for dates and booleans, shared by the XML and JSON forms."""

from __future__ import annotations

import re
from datetime import date

_TZ = re.compile(r"Z|[+-](?:0\d|1[0-4]):[0-5]\d")
_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})


def parse_date(text: str) -> date:
    """Read an xs:date: ``2024-01-31``, ``2024-01-31Z`` or ``2024-01-31+02:00``.

    The time zone is checked and dropped: Alma's dates are calendar days. Raises ValueError.
    """
    if len(text) < 10 or text[4] != "-" or text[7] != "-" or not text[:4].isdigit():
        raise ValueError(text)
    if len(text) > 10 and not _TZ.fullmatch(text, 10):
        raise ValueError(text)
    return date.fromisoformat(text[:10])


def format_date(value: date) -> str:
    """Write a date the way Alma does, with the ``Z`` suffix: ``2024-01-31Z``."""
    return value.isoformat() + "Z"


def parse_bool(text: str) -> bool:
    """Read an xs:boolean leniently: true/false in any case, 1/0. Raises ValueError."""
    low = text.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError(text)


def format_bool(value: bool) -> str:
    """Write a boolean as xs:boolean: ``true`` or ``false``."""
    return "true" if value else "false"
