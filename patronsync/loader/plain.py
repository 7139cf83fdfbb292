"""The engine's fast path: a plain ``<user>`` element straight to the store's checked form.

The reference path (`batch.parse_record`) decodes an element into the codec's model, turns the
model into Alma's JSON form and checks that against the store's rules: three passes over every
user, most of a first Import's time. Nearly every user of a real feed is *plain*: no namespace,
no unknown element, no researcher block, and nothing that breaks a rule. `decode_plain` turns such
an element into the same `PatronData` in one pass. Anything else raises `NotPlain`, and the caller
takes the reference path, which reports each problem in its exact words. A property test checks
that the two paths agree on every user the codec's strategies can generate.

The tables below are derived from the codec's schema (`almaxml.schema`) and the store's field
tables (`patrons.fields`), so a field added there is either handled here or sends its users down
the reference path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from patronsync.almaxml.schema import CONTACT_INFO, USER, Field, Kind, Spec
from patronsync.almaxml.values import format_date, parse_bool, parse_date
from patronsync.core.exceptions import RuleViolation
from patronsync.core.selectors import CodeTables
from patronsync.patrons.fields import (
    CONTACT_SEGMENTS,
    CORE_FIELDS,
    SEGMENT_CODES,
    SEGMENT_KEYS,
    SEGMENT_REQUIRED,
    TYPED_SEGMENTS,
)
from patronsync.patrons.limits import checked_identifier, checked_identifier_segment
from patronsync.patrons.rules import EXTERNAL, SEGMENT_TYPES, PatronData, check_preferred


class NotPlain(Exception):
    """The element needs the reference path: it is unusual, or it breaks a rule."""


def _text(elem: Any) -> str | None:
    text = elem.text
    if text is None:
        return None
    return text.strip() or None


# A reader turns one child element into its value in the stored form; None means "absent".
Reader = Callable[[Any, CodeTables], Any]


def _code_reader(table: str | None) -> Reader:
    """A code: checked against `table` and stored bare, or kept with its description."""

    def read(elem: Any, codes: CodeTables) -> Any:
        value = _text(elem)
        if value is None:
            return None
        if table is not None:
            if not codes.has(table, value):
                raise NotPlain
            return {"value": value}
        desc = elem.get("desc")
        desc = desc.strip() if desc is not None else None
        return {"value": value, "desc": desc} if desc else {"value": value}

    return read


def _read_day(elem: Any, codes: CodeTables) -> date | None:
    """A date, as the core fields keep it."""
    text = _text(elem)
    if text is None:
        return None
    try:
        return parse_date(text)
    except ValueError:
        raise NotPlain from None


def _date_reader(with_zone: bool) -> Reader:
    """A date inside a segment, as text: with Alma's zone, or plain ISO."""

    def read(elem: Any, codes: CodeTables) -> Any:
        day = _read_day(elem, codes)
        if day is None:
            return None
        return format_date(day) if with_zone else day.isoformat()

    return read


def _read_bool(elem: Any, codes: CodeTables) -> Any:
    text = _text(elem)
    if text is None:
        return None
    try:
        return parse_bool(text)
    except ValueError:
        raise NotPlain from None


def _codes_reader(item: str, table: str | None) -> Reader:
    """A wrapper of codes (``<email_types><email_type>``): a list, empty when none is set."""
    read_code = _code_reader(table)

    def read(elem: Any, codes: CodeTables) -> Any:
        out = []
        for child in elem:
            if child.tag != item:
                raise NotPlain
            value = read_code(child, codes)
            if value is not None:
                out.append(value)
        return out

    return read


# How a segment's child is stored: as its text, as what its reader gives (a value, or a list of
# codes that replaces any earlier one), or added to a list (a repeated list wrapper adds to it).
_TEXT, _VALUE, _CODES, _LIST = range(4)


@dataclass(frozen=True, slots=True)
class _Segment:
    """How to read one kind of segment: its children, attributes and required fields."""

    readers: dict[str, tuple[str, int, Reader | None]]  # tag -> (output key, how, reader)
    attrs: tuple[tuple[str, bool, Any], ...]  # (name, is boolean, the model's default)
    required: tuple[str, ...]
    typed: bool

    def read(self, elem: Any, codes: CodeTables) -> dict[str, Any]:
        """The segment as the rules store it; keys in document order."""
        out: dict[str, Any] = {}
        readers = self.readers
        for child in elem:
            entry = readers.get(child.tag)  # type: ignore[call-overload]
            if entry is None:
                raise NotPlain
            key, how, reader = entry
            if how == _TEXT:
                text = child.text
                if text is not None and (text := text.strip()):
                    out[key] = text
                continue
            assert reader is not None
            value = reader(child, codes)
            if how == _VALUE:
                if value is not None:
                    out[key] = value
            elif how == _CODES:
                if value:
                    out[key] = value
                else:  # the rules drop an empty list
                    out.pop(key, None)
            elif value:
                out.setdefault(key, []).extend(value)
        for name, is_bool, default in self.attrs:
            raw = elem.get(name)
            if raw is None:
                value = default
            elif is_bool:
                try:
                    value = parse_bool(raw.strip())
                except ValueError:
                    raise NotPlain from None
            else:
                value = raw.strip() or None
                if value is not None and name == "segment_type" and value not in SEGMENT_TYPES:
                    value = EXTERNAL
            if value is not None:
                out[name] = value
        for key in self.required:
            if not out.get(key):
                raise NotPlain
        if self.typed:
            out.setdefault("segment_type", EXTERNAL)
        return out


def _segment(kind: str, spec: Spec) -> _Segment:
    code_tables = SEGMENT_CODES.get(kind, {})
    readers: dict[str, tuple[str, int, Reader | None]] = {}
    for f in spec.fields:
        key = f.item if f.kind in (Kind.CODES, Kind.LIST) else f.name
        assert key is not None
        if f.kind in (Kind.TEXT, Kind.DATETIME):
            readers[f.name] = (key, _TEXT, None)
            continue
        how = {Kind.CODES: _CODES, Kind.LIST: _LIST}.get(f.kind, _VALUE)
        readers[f.name] = (key, how, _field_reader(f, code_tables.get(key)))
    defaults = spec.cls()
    attrs = tuple((a.name, a.is_bool, getattr(defaults, a.name)) for a in spec.attrs)
    typed = kind in TYPED_SEGMENTS or kind == "user_identifier"
    return _Segment(readers, attrs, SEGMENT_REQUIRED.get(kind, ()), typed)


def _field_reader(f: Field, table: str | None) -> Reader:
    """The reader of a segment's child, its value as the store's rules leave it."""
    if f.kind is Kind.CODE:
        return _code_reader(table)
    if f.kind is Kind.CODES:
        assert f.item is not None
        return _codes_reader(f.item, table)
    if f.kind is Kind.DATE:
        # The rules turn start and end dates into plain ISO dates; other dates stay as Alma
        # writes them in JSON, with the zone.
        return _date_reader(with_zone=f.name not in ("start_date", "end_date"))
    if f.kind is Kind.BOOL:
        return _read_bool
    if f.kind is Kind.LIST:
        assert f.spec is not None
        assert f.item is not None
        return _list_reader(f.item, _segment(f.item, f.spec))
    raise NotImplementedError(f"no plain reader for {f.kind}")  # pragma: no cover


def _list_reader(item: str, segment: _Segment) -> Reader:
    def read(elem: Any, codes: CodeTables) -> Any:
        out = []
        for child in elem:
            if child.tag != item:
                raise NotPlain
            out.append(segment.read(child, codes))
        return out

    return read


# -- the user --------------------------------------------------------------------------------


def _lists(spec: Spec) -> dict[str, tuple[str, _Segment]]:
    """The lists of `spec` that the store keeps: wrapper tag -> (item tag, segment reader)."""
    lists = {}
    for f in spec.fields:
        if f.kind is Kind.LIST and f.item in (*SEGMENT_KEYS, "user_identifier"):
            assert f.spec is not None
            lists[f.name] = (f.item, _segment(f.item, f.spec))
    return lists


_LISTS = _lists(USER)  # user_identifiers, user_roles, user_notes...
_CONTACT_LISTS = _lists(CONTACT_INFO)  # addresses, emails, phones

# Children that carry nothing the store keeps, and cannot break a rule.
_IGNORED = {
    f.name
    for f in USER.fields
    if f.name not in CORE_FIELDS
    and f.name not in _LISTS
    and f.kind in (Kind.TEXT, Kind.COUNT, Kind.LIST)
}


def _core_reader(name: str) -> Reader:
    spec = CORE_FIELDS[name]
    if spec.kind == "code":
        table = spec.table

        def read_code(elem: Any, codes: CodeTables) -> str | None:
            value = _text(elem)
            if value is not None and table and not codes.has(table, value):
                raise NotPlain
            return value

        return read_code
    if spec.kind == "bool":
        return _read_bool
    if spec.kind == "date":
        return _read_day
    limit = spec.max_length
    if name == "primary_id":
        # The store's limits on identifiers (length, NFC, visible characters); XML carries no
        # NUL or lone surrogate, the other thing the rules refuse in text.
        def read_primary_id(elem: Any, codes: CodeTables) -> str | None:
            text = _text(elem)
            if text is None:
                return None
            try:
                return checked_identifier(text, field_name=name)
            except RuleViolation:
                raise NotPlain from None

        return read_primary_id

    def read_text(elem: Any, codes: CodeTables) -> str | None:
        text = _text(elem)
        if text is not None and len(text) > limit:
            raise NotPlain
        return text

    return read_text


_CORE: dict[str, Reader] = {name: _core_reader(name) for name in CORE_FIELDS}
# Dates outside the store that the reference path still checks.
_CHECKED_DATES = {f.name for f in USER.fields if f.kind is Kind.DATE and f.name not in CORE_FIELDS}


def decode_plain(elem: Any, codes: CodeTables) -> PatronData:
    """The checked data of a plain ``<user>`` element; raises NotPlain for any other.

    Gives what `patron_data_from_json(user_to_json(decode_user(elem)))` gives.
    """
    data = PatronData()
    core, segments, present = data.core, data.segments, data.present
    lists: dict[str, list[dict[str, Any]]] = {}
    for child in elem:
        tag = child.tag
        reader = _CORE.get(tag)  # type: ignore[call-overload]
        if reader is not None:
            value = reader(child, codes)
            if value is not None:
                core[tag] = value
                present.add(tag)
        elif tag in _LISTS:
            _read_list(child, _LISTS, lists, codes)
        elif tag == "contact_info":
            for group in child:
                if group.tag not in _CONTACT_LISTS:
                    raise NotPlain
                _read_list(group, _CONTACT_LISTS, lists, codes)
        elif tag in _CHECKED_DATES:
            _read_day(child, codes)
        elif tag in _IGNORED or (tag == "researcher" and not len(child) and not _text(child)):
            continue  # nothing the store keeps (an empty researcher block is absent)
        else:  # a namespace, an unknown element, a researcher block, an entity...
            raise NotPlain
    identifiers = lists.pop("user_identifier", None)
    if not (
        core.get("primary_id")
        or core.get("first_name")
        or core.get("last_name")
        or any(i.get("value") for i in identifiers or ())
    ):
        raise NotPlain
    if any(lists.get(kind) for kind in CONTACT_SEGMENTS):
        present.update(CONTACT_SEGMENTS)
        for kind in CONTACT_SEGMENTS:
            segments[kind] = lists.get(kind, [])
    for kind in SEGMENT_KEYS:
        if kind not in CONTACT_SEGMENTS and lists.get(kind):
            segments[kind] = lists[kind]
            present.add(kind)
    try:
        if identifiers:
            for item in identifiers:
                checked_identifier_segment(item, where="user_identifier")
            data.identifiers = identifiers
            present.add("user_identifier")
        check_preferred(segments)
    except RuleViolation:
        raise NotPlain from None
    return data


def _read_list(
    elem: Any,
    known: dict[str, tuple[str, _Segment]],
    lists: dict[str, list[dict[str, Any]]],
    codes: CodeTables,
) -> None:
    item, segment = known[elem.tag]
    items = lists.setdefault(item, [])
    for child in elem:
        if child.tag != item:
            raise NotPlain
        items.append(segment.read(child, codes))
