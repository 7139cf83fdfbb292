"""Alma's JSON form of a user, both directions (the Users API's JSON, SPEC §5.4).

Code fields are ``{"value": ..., "desc": ...}`` (bare strings accepted on input); wrapper lists
are flattened under their item name (``"user_identifier": [...]``, ``contact_info: {"address":
[...]}``, ``"address_type": [{"value": "home"}]``); attributes become properties; dates are
``"2023-10-31Z"``. Output is deterministic: keys in XSD order, absent values and empty segment
lists left out (type lists such as ``address_type`` and boolean attributes are always there), so
the same user always gives the same dict. This form is what the user store keeps in JSON
columns. `researcher` is kept as its XML text (a string), not converted.
"""

from __future__ import annotations

from typing import Any

from patronsync.almaxml.model import Code, Count, User
from patronsync.almaxml.schema import USER, Kind, Spec
from patronsync.almaxml.values import format_date, parse_bool, parse_date


def _code_out(code: Code) -> dict[str, str]:
    out = {"value": code.value}
    if code.desc is not None:
        out["desc"] = code.desc
    return out


def _count_out(count: Count) -> dict[str, Any]:
    number: Any = count.value
    try:
        as_int = int(number)
        if str(as_int) == number:
            number = as_int
        elif repr(float(number)) == number:
            number = float(number)
    except ValueError:
        pass
    out: dict[str, Any] = {"value": number}
    if count.link is not None:
        out["link"] = count.link
    return out


def _to_json(obj: Any, spec: Spec, out: dict[str, Any]) -> dict[str, Any]:
    for f in spec.fields:
        kind = f.kind
        if kind is Kind.GROUP:
            assert f.spec is not None
            group = _to_json(obj, f.spec, {})
            if group:
                out[f.name] = group
            continue
        value = getattr(obj, f.name)
        if kind is Kind.CODES:
            out[f.item or f.name] = [_code_out(c) for c in value]
        elif kind is Kind.LIST:
            if value:
                assert f.spec is not None
                out[f.item or f.name] = [_to_json(item, f.spec, {}) for item in value]
        elif value is None:
            continue
        elif kind is Kind.CODE:
            out[f.name] = _code_out(value)
        elif kind is Kind.DATE:
            out[f.name] = format_date(value)
        elif kind is Kind.COUNT:
            out[f.name] = _count_out(value)
        else:
            out[f.name] = value
    for attr in spec.attrs:
        value = getattr(obj, attr.name)
        if value is not None:
            out[attr.name] = value
    return out


def user_to_json(user: User) -> dict[str, Any]:
    """The user as Alma's JSON dict (plain dicts, lists, strings, numbers and booleans)."""
    return _to_json(user, USER, {})


def _code_in(value: Any) -> Code | None:
    if value is None:
        return None
    if isinstance(value, str):
        return Code(value.strip()) if value.strip() else None
    code = str(value.get("value") or "").strip()
    if not code:
        return None
    desc = value.get("desc")
    return Code(code, desc if desc else None)


def _bool_in(value: Any) -> bool | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, bool) else parse_bool(str(value))


def _from_json(data: dict[str, Any], spec: Spec, values: dict[str, Any]) -> dict[str, Any]:
    for f in spec.fields:
        kind = f.kind
        if kind is Kind.GROUP:
            assert f.spec is not None
            _from_json(data.get(f.name) or {}, f.spec, values)
            continue
        key = f.item if kind in (Kind.CODES, Kind.LIST) else f.name
        raw = data.get(key or f.name)
        if raw is None or raw == "":
            continue
        if kind is Kind.CODES:
            values[f.name] = [c for c in map(_code_in, raw) if c is not None]
        elif kind is Kind.LIST:
            assert f.spec is not None
            values[f.name] = [f.spec.cls(**_from_json(item, f.spec, {})) for item in raw]
        elif kind is Kind.CODE:
            values[f.name] = _code_in(raw)
        elif kind is Kind.DATE:
            values[f.name] = parse_date(str(raw).strip())
        elif kind is Kind.BOOL:
            values[f.name] = _bool_in(raw)
        elif kind is Kind.COUNT:
            number = raw.get("value") if isinstance(raw, dict) else raw
            link = raw.get("link") if isinstance(raw, dict) else None
            if number is not None and number != "":
                values[f.name] = Count(str(number), link)
        else:
            text = str(raw).strip() if kind is not Kind.RAW else str(raw)
            if text:
                values[f.name] = text
    for attr in spec.attrs:
        raw = data.get(attr.name)
        if raw is not None:
            values[attr.name] = _bool_in(raw) if attr.is_bool else str(raw)
    return values


def user_from_json(data: dict[str, Any]) -> User:
    """Build a User from Alma's JSON dict; lenient like the XML reader.

    Raises ValueError for a date or boolean that cannot be read.
    """
    return User(**_from_json(data, USER, {}))


def users_to_json(users: list[User], *, total_record_count: int | None = None) -> dict[str, Any]:
    """A list response: ``{"user": [...], "total_record_count": N}`` (N defaults to the count)."""
    count = len(users) if total_record_count is None else total_record_count
    return {"user": [user_to_json(u) for u in users], "total_record_count": count}


def users_from_json(data: dict[str, Any]) -> list[User]:
    """The users of a list response."""
    return [user_from_json(item) for item in data.get("user") or []]
