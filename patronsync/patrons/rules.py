"""The store's rules on one user's data, as pure functions: no ORM, so they test without a database.

`patron_data_from_json` turns a user's Alma JSON form into a checked `PatronData`, raising
`RuleViolation` (in Alma's words where Alma has them) on the first broken rule.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from patronsync.core.exceptions import RuleViolation
from patronsync.core.selectors import CodeTables

from .choices import AccountType, SegmentType
from .fields import (
    CONTACT_SEGMENTS,
    CORE_FIELDS,
    OTHER_SEGMENTS,
    SEGMENT_CODES,
    SEGMENT_REQUIRED,
    TYPED_SEGMENTS,
)
from .limits import (
    checked_identifier,
    checked_identifier_segment,
    checked_json,
    checked_text,
    identifier_key,
)

# Plain strings: Django's `Choices.values` builds a new list on every call, and these are
# looked up for every segment of every user in a feed.
SEGMENT_TYPES = frozenset(SegmentType.values)
EXTERNAL = str(SegmentType.EXTERNAL.value)
ACCOUNT_TYPES = frozenset(AccountType.values)
TRUE_WORDS = {"true", "1", "yes", "y"}
FALSE_WORDS = {"false", "0", "no", "n", ""}


@dataclass
class PatronData:
    """A user's data after the rules: typed core values, identifiers and segment lists.

    `present` names the keys the input carried, so a partial update touches only those.
    """

    core: dict[str, Any] = field(default_factory=dict)
    identifiers: list[dict[str, Any]] | None = None
    segments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    researcher: str | None = None
    present: set[str] = field(default_factory=set)


def code_of(value: Any) -> str | None:
    """The code of a code field given as `{"value": ..., "desc": ...}` or as a bare string."""
    if isinstance(value, dict):
        value = value.get("value")
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def parse_date(value: Any, *, field_name: str) -> dt.date | None:
    """Accept `2024-01-31`, `2024-01-31Z` or a date; empty means absent."""
    if value is None or isinstance(value, dt.date):
        return value
    text = str(value).strip()
    if not text:
        return None
    if text.endswith("Z"):
        text = text[:-1]
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        raise RuleViolation(
            f"Field {field_name} has an invalid date '{value}' (expected YYYY-MM-DD)",
            code="INVALID_DATE",
            field=field_name,
            value=value,
            alma_code="401676",
        ) from None


def parse_bool(value: Any, *, field_name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if value is not None else ""
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise RuleViolation(
        f"Field {field_name} has an invalid boolean '{value}' (expected true or false)",
        code="INVALID_BOOLEAN",
        field=field_name,
        value=value,
    )


def check_code(codes: CodeTables, table: str, code: str, *, field_name: str) -> None:
    """Alma: 401852 for the user group, 401864 "Given X type (Y) is invalid" for the rest."""
    if codes.has(table, code):
        return
    if field_name == "user_group":
        raise RuleViolation(
            f"Given user group is not legal: '{code}' is not in code table {table}",
            code="USER_GROUP_NOT_LEGAL",
            field=field_name,
            value=code,
            alma_code="401852",
        )
    raise RuleViolation(
        f"Given {field_name} type ({code}) is invalid: not in code table {table}",
        code="UNKNOWN_CODE",
        field=field_name,
        value=code,
        alma_code="401864",
    )


def _text(value: Any, *, field_name: str, max_length: int) -> str:
    text = "" if value is None else str(value).strip()
    if field_name == "primary_id":
        return checked_identifier(text, field_name=field_name)
    return checked_text(text, field_name=field_name, max_length=max_length)


def _core_value(name: str, raw: Any, codes: CodeTables) -> Any:
    spec = CORE_FIELDS[name]
    if spec.kind == "code":
        code = code_of(raw)
        if code is not None and spec.table:
            check_code(codes, spec.table, code, field_name=name)
        return code or ""
    if spec.kind == "date":
        return parse_date(raw, field_name=name)
    if spec.kind == "bool":
        return parse_bool(raw, field_name=name)
    return _text(raw, field_name=name, max_length=spec.max_length)


def _normalize_segment(
    kind: str, item: Any, codes: CodeTables, position: int, default_type: str = EXTERNAL
) -> dict[str, Any]:
    """Check one segment and return it in the stored form: codes as {"value": code}.

    A typed segment without a valid `segment_type` gets `default_type`.
    """
    where = f"{kind}[{position}]"
    if not isinstance(item, dict):
        raise RuleViolation(
            f"{where} must be an object", code="INVALID_SEGMENT", field=kind, value=None
        )
    out: dict[str, Any] = {}
    code_fields = SEGMENT_CODES.get(kind, {})
    for key, value in item.items():
        if value is None or value == "" or value == []:
            continue
        if key in code_fields:
            table = code_fields[key]
            values = value if isinstance(value, list) else [value]
            checked = []
            for entry in values:
                code = code_of(entry)
                if code is None:
                    continue
                check_code(codes, table, code, field_name=f"{kind}.{key}")
                checked.append({"value": code})
            if not checked:
                continue
            out[key] = checked if isinstance(value, list) else checked[0]
        elif key in {"preferred", "preferred_sms", "user_viewable", "popup_note"}:
            out[key] = parse_bool(value, field_name=f"{where}.{key}")
        elif key in {"start_date", "end_date"}:
            date = parse_date(value, field_name=f"{where}.{key}")
            out[key] = date.isoformat() if date else None
        elif key == "segment_type":
            out[key] = value if value in SEGMENT_TYPES else default_type
        elif isinstance(value, str):
            text = value.strip()
            if not text.isascii() or "\x00" in text:  # no NUL or lone surrogate, in any length
                checked_text(text, field_name=f"{where}.{key}", max_length=None)
            out[key] = text
        elif isinstance(value, (dict, list)):
            out[key] = checked_json(value, field_name=f"{where}.{key}")
        else:
            out[key] = value
    for required in SEGMENT_REQUIRED.get(kind, ()):
        if not out.get(required):
            raise RuleViolation(
                f"Mandatory field is missing: {kind}.{required}",
                code="MANDATORY_FIELD_MISSING",
                field=f"{kind}.{required}",
                alma_code="401664",
            )
    if kind == "user_identifier":
        checked_identifier_segment(out, where=where)
    if kind in TYPED_SEGMENTS or kind == "user_identifier":
        out.setdefault("segment_type", default_type)
    return out


def check_preferred(segments: dict[str, list[dict[str, Any]]]) -> None:
    """Only one address, one email and one phone may be preferred; one phone preferred for SMS."""
    for kind in CONTACT_SEGMENTS:
        for flag in ("preferred", "preferred_sms") if kind == "phone" else ("preferred",):
            flagged = [item for item in segments.get(kind, []) if item.get(flag)]
            if len(flagged) > 1:
                raise RuleViolation(
                    f"Only one {kind} can be defined as {flag.replace('_', ' ')} "
                    f"({len(flagged)} are)",
                    code="TOO_MANY_PREFERRED",
                    field=f"{kind}.{flag}",
                    value=len(flagged),
                )


def check_identifiers_within_user(primary_id: str, identifiers: list[dict[str, Any]]) -> None:
    """A user may not carry the same value twice, the primary ID included (SPEC §1.5)."""
    seen = {identifier_key(primary_id): "primary_id"} if primary_id else {}
    for item in identifiers:
        key = identifier_key(item["value"])
        if key in seen:
            raise RuleViolation(
                f"Identifier of type {item['id_type']['value']} and value {item['value']} is "
                f"already used by this user (as {seen[key]})",
                code="IDENTIFIER_REPEATED",
                field="user_identifier",
                value=item["value"],
                alma_code="401851",
            )
        seen[key] = item["id_type"]["value"]


def check_account(core: dict[str, Any]) -> None:
    """Account type and external ID rules of Alma's API (401853, 401854, 401857)."""
    account_type = core.get("account_type") or AccountType.EXTERNAL
    if account_type not in ACCOUNT_TYPES:
        raise RuleViolation(
            f"Account type '{account_type}' is illegal; it must be INTERNAL or EXTERNAL",
            code="ACCOUNT_TYPE_ILLEGAL",
            field="account_type",
            value=account_type,
            alma_code="401857",
        )
    external_id = core.get("external_id") or ""
    if account_type == AccountType.INTERNAL and external_id:
        raise RuleViolation(
            "External Id must be empty for internal user",
            code="EXTERNAL_ID_NOT_ALLOWED",
            field="external_id",
            value=external_id,
            alma_code="401853",
        )
    if account_type == AccountType.EXTERNAL and not external_id:
        raise RuleViolation(
            "External Id must be given for external user",
            code="EXTERNAL_ID_REQUIRED",
            field="external_id",
            alma_code="401854",
        )


def patron_data_from_json(
    data: dict[str, Any], *, codes: CodeTables, segment_type: str | None = None
) -> PatronData:
    """Check a user's Alma JSON form against the rules and return it typed.

    Output-only fields (full_name, requests, loans, fees, proxy_for_user, link, ...) are ignored.
    Segments that do not say their `segment_type` get `segment_type` (External by default; an
    internal user's are Internal, as rest_user.xsd says).
    """
    default_type = segment_type or EXTERNAL
    result = PatronData()
    for name in CORE_FIELDS:
        if name in data:
            result.core[name] = _core_value(name, data[name], codes)
            result.present.add(name)
    contact = data.get("contact_info") or {}
    if "contact_info" in data:
        result.present.update(CONTACT_SEGMENTS)
    for kind in CONTACT_SEGMENTS:
        if kind in contact:
            result.present.add(kind)
        if kind in result.present:
            items = contact.get(kind) or []
            result.segments[kind] = [
                _normalize_segment(kind, item, codes, i, default_type)
                for i, item in enumerate(items)
            ]
    for kind in OTHER_SEGMENTS:
        if kind in data:
            items = data[kind] or []
            result.segments[kind] = [
                _normalize_segment(kind, item, codes, i, default_type)
                for i, item in enumerate(items)
            ]
            result.present.add(kind)
    if "user_identifier" in data:
        result.identifiers = [
            _normalize_segment("user_identifier", item, codes, i, default_type)
            for i, item in enumerate(data["user_identifier"] or [])
        ]
        result.present.add("user_identifier")
    if "researcher" in data:
        researcher = data["researcher"]
        result.researcher = (
            checked_text(researcher, field_name="researcher", max_length=None)
            if isinstance(researcher, str)
            else ""
        )
        result.present.add("researcher")
    check_preferred(result.segments)
    return result
