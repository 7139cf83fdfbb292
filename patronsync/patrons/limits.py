"""What the user store accepts: the one set of limits the rules, the engine's fast path and the
models share, so a value SQLite would take and PostgreSQL refuse is refused before any write.

- Lengths: every text column of the store holds at most `MAX_LENGTH` characters (PostgreSQL
  enforces it, SQLite does not), and an identifier's key, which the unique index stores, too.
- Keys: a primary ID or identifier is compared through `identifier_key`, computed in Python
  and indexed as it is (no `lower()` of the database, which folds differently per database
  and collation): Unicode NFC, then full case folding (`str.casefold`), so a Greek capital
  sigma, a final and a medial small sigma are one value on every database, as are `STRASSE` and
  `straße`; `İ1` (dotted capital I) folds to an i with a combining dot, which is not `i1`.
- Characters: a primary ID or identifier holds visible characters and plain spaces only;
  control, bidirectional, zero-width and other invisible characters are refused
  (`INVALID_CHARACTER`), so two values that look the same are the same value.
- Any text: NUL and lone surrogates, which neither database stores, are refused too.

Pure functions, no ORM: the reading process of a job and the API's rules call them alike.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from patronsync.core.exceptions import RuleViolation

# The length of every text column of the store (`Patron`, `PatronIdentifier`).
MAX_LENGTH = 255
# Characters no text the store keeps may hold: neither database stores them.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def identifier_key(value: str) -> str:
    """The uniqueness key of an identifier or primary ID: Alma compares them case-insensitively.

    NFC, then full case folding, then NFC again; ASCII (nearly every value) is lower-cased.
    """
    text = value.strip()
    if text.isascii():
        return text.lower()
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", text).casefold())


def normalized(text: str) -> str:
    """`text` in Unicode NFC, the form the store keeps primary IDs and identifiers in."""
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def _too_long(field_name: str, text: str, detail: str = "") -> RuleViolation:
    return RuleViolation(
        f"Field {field_name} is longer than {MAX_LENGTH} characters{detail}",
        code="VALUE_TOO_LONG",
        field=field_name,
        value=text[:50],
    )


def _invalid_character(field_name: str, text: str, char: str) -> RuleViolation:
    name = unicodedata.name(char, "") or unicodedata.category(char)
    return RuleViolation(
        f"Field {field_name} contains an invisible or control character "
        f"(U+{ord(char):04X} {name}); identifiers hold visible characters and spaces only",
        code="INVALID_CHARACTER",
        field=field_name,
        value=text[:50].encode("unicode_escape").decode("ascii"),
    )


def checked_identifier(value: str, *, field_name: str) -> str:
    """An identifier value or primary ID (already stripped) as the store keeps it: NFC, at most
    MAX_LENGTH characters and as long a key, visible characters and spaces only.

    Raises `RuleViolation` (VALUE_TOO_LONG, INVALID_CHARACTER) naming `field_name`.
    """
    if value.isascii():
        if len(value) > MAX_LENGTH:
            raise _too_long(field_name, value)
        if not value.isprintable():
            bad = next(c for c in value if not c.isprintable())
            raise _invalid_character(field_name, value, bad)
        return value
    text = unicodedata.normalize("NFC", value)
    if len(text) > MAX_LENGTH:
        raise _too_long(field_name, text)
    if not text.isprintable():
        # Python's printable: no control (Cc), format (Cf: bidirectional marks and overrides,
        # zero-width characters, the BOM), separator other than the space, surrogate, private
        # or unassigned character.
        raise _invalid_character(field_name, text, next(c for c in text if not c.isprintable()))
    if len(identifier_key(text)) > MAX_LENGTH:
        raise _too_long(field_name, text, " once case-folded")
    return text


def checked_text(value: str, *, field_name: str, max_length: int | None = MAX_LENGTH) -> str:
    """Any text the store keeps: no NUL or lone surrogate, at most `max_length` characters."""
    if max_length is not None and len(value) > max_length:
        raise RuleViolation(
            f"Field {field_name} is longer than {max_length} characters",
            code="VALUE_TOO_LONG",
            field=field_name,
            value=value[:50],
        )
    if ("\x00" in value or not value.isascii()) and (bad := _UNSTORABLE.search(value)):
        raise RuleViolation(
            f"Field {field_name} contains a character no database stores "
            f"(U+{ord(bad.group()):04X})",
            code="INVALID_CHARACTER",
            field=field_name,
            value=value[:50].encode("unicode_escape", "backslashreplace").decode("ascii"),
        )
    return value


def _storable(value: Any) -> str | None:
    """The first string in a JSON value (keys included) that no database stores, or None."""
    if isinstance(value, str):
        if (not value.isascii() or "\x00" in value) and _UNSTORABLE.search(value):
            return value
    elif isinstance(value, dict):
        for key, item in value.items():
            if (bad := _storable(key)) is not None or (bad := _storable(item)) is not None:
                return bad
    elif isinstance(value, list):
        for item in value:
            if (bad := _storable(item)) is not None:
                return bad
    return None


def checked_json(value: Any, *, field_name: str) -> Any:
    """A nested value of a segment (an object or a list, as the API may send): no string in it
    holds a NUL or a lone surrogate, which PostgreSQL's JSON column refuses."""
    if (bad := _storable(value)) is not None:
        checked_text(bad, field_name=field_name, max_length=None)
    return value


def checked_identifier_segment(item: dict[str, Any], *, where: str) -> None:
    """An identifier segment's value (NFC, checked), note and status, in place.

    Nearly every identifier is short printable ASCII: that is decided without a call, and the
    field's name is only spelled out for a value that breaks a rule.
    """
    value = item["value"]
    if type(value) is not str:
        value = str(value)
    if not (value.isascii() and len(value) <= MAX_LENGTH and value.isprintable()):
        value = checked_identifier(value, field_name=f"{where}.value")
    item["value"] = value
    status = item.get("status")
    if isinstance(status, str) and (
        len(status) > MAX_LENGTH or not status.isascii() or "\x00" in status
    ):
        checked_text(status, field_name=f"{where}.status", max_length=MAX_LENGTH)
    note = item.get("note")
    if isinstance(note, str) and (not note.isascii() or "\x00" in note):
        checked_text(note, field_name=f"{where}.note", max_length=None)
