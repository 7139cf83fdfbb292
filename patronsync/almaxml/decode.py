"""Turn a parsed ``<user>`` element into the model, leniently, collecting problems."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lxml import etree

from patronsync.almaxml.errors import Problem, Severity
from patronsync.almaxml.model import Code, Count, User
from patronsync.almaxml.schema import USER, Field, Kind, Spec
from patronsync.almaxml.values import parse_bool, parse_date

_LOCAL: dict[str, str] = {}
_BLANK_PARSER = etree.XMLParser(
    remove_blank_text=True, resolve_entities=False, no_network=True, load_dtd=False
)


def local_name(tag: str) -> str:
    """The tag without its ``{namespace}``; memoized, as a feed uses a handful of tags."""
    name = _LOCAL.get(tag)
    if name is None:
        name = tag.rpartition("}")[2]
        _LOCAL[tag] = name
    return name


class Issues:
    """The problems found while decoding one user, before the user's position is known."""

    __slots__ = ("found", "line_offset")

    def __init__(self, line_offset: int = 0) -> None:
        self.found: list[tuple[Severity, str, str, int | None, str]] = []
        self.line_offset = line_offset

    def add(self, severity: Severity, code: str, elem: Any, field: str, message: str) -> None:
        """Record a problem at `elem`'s line."""
        line = elem.sourceline
        if line is not None:
            line += self.line_offset
        self.found.append((severity, code, field, line, message))

    def problems(self, *, file: str | None, entry: str | None, primary_id: str | None) -> list:
        """The recorded problems as Problem objects, located in `file` and `entry`."""
        return [
            Problem(sev, code, msg, file, entry, line, primary_id, fld)
            for sev, code, fld, line, msg in self.found
        ]


def _text(elem: Any) -> str | None:
    text = elem.text
    if text is None:
        return None
    text = text.strip()
    return text or None


def _read_text(elem: Any, f: Field, issues: Issues) -> Any:
    return _text(elem)


def _read_code(elem: Any, f: Field, issues: Issues) -> Any:
    value = _text(elem)
    if value is None:
        return None
    desc = elem.get("desc")
    if desc is not None:
        desc = desc.strip() or None
    return Code(value, desc)


def _read_date(elem: Any, f: Field, issues: Issues) -> Any:
    text = _text(elem)
    if text is None:
        return None
    try:
        return parse_date(text)
    except ValueError:
        msg = f"<{f.name}> {text!r} is not a date (expected YYYY-MM-DD)"
        issues.add("error", "VALUE_NOT_A_DATE", elem, f.name, msg)
        return None


def _read_bool(elem: Any, f: Field, issues: Issues) -> Any:
    text = _text(elem)
    if text is None:
        return None
    try:
        return parse_bool(text)
    except ValueError:
        msg = f"<{f.name}> {text!r} is not a boolean (expected true or false)"
        issues.add("error", "VALUE_NOT_A_BOOLEAN", elem, f.name, msg)
        return None


def _read_count(elem: Any, f: Field, issues: Issues) -> Any:
    value = _text(elem)
    return None if value is None else Count(value, elem.get("link"))


def _read_codes(elem: Any, f: Field, issues: Issues) -> Any:
    codes = []
    for child in elem:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        if local_name(tag) != f.item:
            _unknown(child, f.name, issues)
            continue
        code = _read_code(child, f, issues)
        if code is not None:
            codes.append(code)
    return codes


def _read_list(elem: Any, f: Field, issues: Issues) -> Any:
    items = []
    spec = f.spec
    assert spec is not None
    for child in elem:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        if local_name(tag) != f.item:
            _unknown(child, f.name, issues)
            continue
        items.append(decode(child, spec, issues))
    return items


def _read_raw(elem: Any, f: Field, issues: Issues) -> Any:
    """The element as XML text, with whitespace-only text between elements dropped.

    Dropping indentation makes the text independent of how the file was pretty-printed, so
    that it round-trips through the writer unchanged.
    """
    if len(elem) == 0 and _text(elem) is None:
        return None
    raw = etree.tostring(elem, with_tail=False)
    return etree.tostring(etree.fromstring(raw, _BLANK_PARSER), encoding="unicode")


def _unknown(elem: Any, parent: str, issues: Issues) -> None:
    name = local_name(elem.tag)
    msg = f"unknown element <{name}> in <{parent}> ignored"
    issues.add("warning", "UNKNOWN_ELEMENT", elem, name, msg)


_READERS: dict[Kind, Callable[[Any, Field, Issues], Any]] = {
    Kind.TEXT: _read_text,
    Kind.DATETIME: _read_text,
    Kind.CODE: _read_code,
    Kind.DATE: _read_date,
    Kind.BOOL: _read_bool,
    Kind.COUNT: _read_count,
    Kind.CODES: _read_codes,
    Kind.LIST: _read_list,
    Kind.RAW: _read_raw,
}


def _fill(elem: Any, spec: Spec, values: dict[str, Any], issues: Issues) -> None:
    by_name = spec.by_name
    readers = _READERS
    for child in elem:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        f = by_name.get(_LOCAL.get(tag) or local_name(tag))
        if f is None:
            _unknown(child, local_name(elem.tag), issues)
        elif f.kind is Kind.GROUP:
            assert f.spec is not None
            _fill(child, f.spec, values, issues)
        else:
            value = readers[f.kind](child, f, issues)
            if value is None:
                continue
            if f.kind is Kind.LIST and f.name in values:
                values[f.name].extend(value)
            else:
                values[f.name] = value


def decode(elem: Any, spec: Spec, issues: Issues) -> Any:
    """Build `spec`'s model object from `elem`; unknown children become warnings."""
    values: dict[str, Any] = {}
    if len(elem):
        _fill(elem, spec, values, issues)
    for attr in spec.attrs:
        raw = elem.get(attr.name)
        if raw is None:
            continue
        raw = raw.strip()
        if not attr.is_bool:
            if raw:
                values[attr.name] = raw
            continue
        try:
            values[attr.name] = parse_bool(raw)
        except ValueError:
            msg = f"attribute {attr.name}={raw!r} is not a boolean (expected true or false)"
            issues.add("error", "VALUE_NOT_A_BOOLEAN", elem, attr.name, msg)
    return spec.cls(**values)


def decode_user(elem: Any, issues: Issues) -> User:
    """Build a User from a ``<user>`` element (any namespace)."""
    user: User = decode(elem, USER, issues)
    if not user.is_identifiable():
        msg = "user has no primary_id, no identifier and no name: it cannot be matched"
        issues.add("error", "USER_UNIDENTIFIED", elem, "user", msg)
    return user
