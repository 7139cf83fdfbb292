"""The `q` and `order_by` parameters of GET /users, turned into a query on the user store."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from functools import reduce
from typing import Any

from django.db import NotSupportedError
from django.db.models import BooleanField, Expression, F, Q, QuerySet

from patronsync.core.models import Institution
from patronsync.patrons.models import Patron, identifier_key

from .errors import AlmaError

TEXT_FIELDS = {
    "primary_id": "primary_id",
    "first_name": "first_name",
    "middle_name": "middle_name",
    "last_name": "last_name",
}
CODE_FIELDS = {
    "user_group": "user_group",
    "job_category": "job_category",
    "campus_code": "campus_code",
}
# Fields of the segment lists in the `segments` JSON column: q field -> (list, key in each item).
# Text is matched by "contains", codes ({"value": CODE}) exactly; both case-insensitively.
SEGMENT_TEXT_FIELDS = {
    "email": ("email", "email_address"),
    "phone_number": ("phone", "phone_number"),
    "note_text": ("user_note", "note_text"),
}
SEGMENT_CODE_FIELDS = {
    "note_type": ("user_note", "note_type"),
    "block_type": ("user_block", "block_type"),
    "statistic_category": ("user_statistic", "statistic_category"),
}
SEARCH_FIELDS = sorted(
    {
        *TEXT_FIELDS,
        *CODE_FIELDS,
        *SEGMENT_TEXT_FIELDS,
        *SEGMENT_CODE_FIELDS,
        "identifiers",
        "id_type",
        "birth_date",
        "ALL",
    }
)
ORDER_FIELDS = ("last_name", "first_name", "primary_id")
DEFAULT_ORDER = "last_name, first_name, primary_id"
_COMBINER = re.compile(r"\s+(AND|OR)\s+")
_JSON_NAME = re.compile(r"[a-z_]+")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _bad_query(message: str) -> AlmaError:
    return AlmaError("402119", f"General error: {message}")


class SegmentMatch(Expression):
    """True when an item of one segment list has a field matching a value, in SQL.

    `segments` holds lists (`{"email": [{"email_address": ..., "email_type": [...]}]}`), so the
    test runs on each item's own field: `email~school` matches an address containing "school",
    never an email whose type is school. SQLite walks the list with `json_each`, PostgreSQL with
    `jsonb_array_elements`; text matches by LIKE "contains" (ASCII case-insensitive, as Django's
    `icontains` on SQLite), codes by equality of their lower-cased `value`.
    """

    output_field = BooleanField()

    def __init__(self, kind: str, key: str, value: str, *, code: bool) -> None:
        super().__init__()
        if not (_JSON_NAME.fullmatch(kind) and _JSON_NAME.fullmatch(key)):
            raise ValueError(f"not a segment field: {kind}.{key}")  # names are SQL literals
        self.segments: Any = F("segments")
        self.kind, self.key, self.value, self.code = kind, key, value, code

    def get_source_expressions(self) -> list[Any]:
        return [self.segments]

    def set_source_expressions(self, exprs: Any) -> None:
        (self.segments,) = exprs

    def _pattern(self, connection: Any) -> str:
        return self.value if self.code else f"%{connection.ops.prep_for_like_query(self.value)}%"

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        raise NotSupportedError("Searching segment fields needs SQLite or PostgreSQL.")

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        column, params = compiler.compile(self.segments)
        field = f"json_extract(ps_item.value, '$.{self.key}{'.value' if self.code else ''}')"
        test = f"lower({field}) = lower(%s)" if self.code else f"{field} LIKE %s ESCAPE '\\'"
        items = f"json_each({column}, '$.{self.kind}')"
        sql = f"EXISTS (SELECT 1 FROM {items} AS ps_item WHERE {test})"  # noqa: S608
        return sql, (*params, self._pattern(connection))

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        column, params = compiler.compile(self.segments)
        items = f"({column} -> '{self.kind}')"
        field = (
            f"(ps_item.value -> '{self.key}' ->> 'value')"
            if self.code
            else f"(ps_item.value ->> '{self.key}')"
        )
        test = f"lower({field}) = lower(%s)" if self.code else f"{field} ILIKE %s"
        listed = f"CASE WHEN jsonb_typeof({items}) = 'array' THEN {items} ELSE '[]'::jsonb END"
        sql = (
            f"EXISTS (SELECT 1 FROM jsonb_array_elements({listed}) AS ps_item(value) "  # noqa: S608
            f"WHERE {test})"
        )
        return sql, (*params, *params, self._pattern(connection))


def _segment(name: str, value: str) -> Q:
    if name in SEGMENT_CODE_FIELDS:
        kind, key = SEGMENT_CODE_FIELDS[name]
        return Q(SegmentMatch(kind, key, value, code=True))
    kind, key = SEGMENT_TEXT_FIELDS[name]
    return Q(SegmentMatch(kind, key, value, code=False))


def _condition(term: str) -> Q:
    """One `field~value` term; `*` in the value is ignored (matching is by 'contains')."""
    name, sep, raw = term.partition("~")
    name, value = name.strip(), raw.replace("*", "").strip()
    if not sep or not name:
        raise _bad_query(f"the search term {term!r} is not of the form field~value")
    if "\x00" in value and name in SEARCH_FIELDS:
        return Q(pk__in=[])  # no stored value holds NUL, and PostgreSQL cannot compare with one
    if name in TEXT_FIELDS:
        return Q(**{f"{TEXT_FIELDS[name]}__icontains": value})
    if name in CODE_FIELDS:
        return Q(**{f"{CODE_FIELDS[name]}__iexact": value})
    if name in SEGMENT_TEXT_FIELDS or name in SEGMENT_CODE_FIELDS:
        return _segment(name, value)
    if name == "identifiers":
        return Q(identifiers__value_key__contains=identifier_key(value))
    if name == "id_type":
        return Q(identifiers__id_type__iexact=value)
    if name == "birth_date":
        try:
            return Q(birth_date=dt.date.fromisoformat(value.rstrip("Z")[:10]))
        except ValueError:
            raise _bad_query(f"birth_date {value!r} is not a date (yyyy-MM-dd)") from None
    if name == "ALL":
        return reduce(
            lambda a, b: a | b,
            [
                Q(primary_id__icontains=value),
                Q(first_name__icontains=value),
                Q(last_name__icontains=value),
                _segment("email", value),
                Q(identifiers__value_key__contains=identifier_key(value)),
            ],
        )
    raise _bad_query(f"the search field {name!r} is not supported; use {', '.join(SEARCH_FIELDS)}")


def parse_q(q: str) -> Q:
    """`field~value`, several joined by AND / OR, evaluated left to right as Alma does."""
    parts = _COMBINER.split(q.strip())
    result = _condition(parts[0])
    for combiner, term in zip(parts[1::2], parts[2::2], strict=True):
        result = (result & _condition(term)) if combiner == "AND" else (result | _condition(term))
    return result


def parse_order_by(order_by: str) -> list[str]:
    """A comma list of last_name, first_name, primary_id (each may end with ' desc')."""
    ordering = []
    for part in (order_by or DEFAULT_ORDER).split(","):
        words = part.split()
        if not words:
            continue
        if words[0] not in ORDER_FIELDS or words[1:] not in ([], ["asc"], ["desc"]):
            raise _bad_query(f"cannot order by {part.strip()!r}; use {', '.join(ORDER_FIELDS)}")
        ordering.append(("-" if words[1:] == ["desc"] else "") + words[0])
    return [*ordering, "pk"]


def parse_modify_date_from(value: str, *, institution: Institution) -> dt.datetime:
    """The start of the day `value` (yyyy-MM-dd, as Alma documents it) in the institution's
    time zone; 402119 naming the parameter for anything else."""
    try:
        if not _DATE.fullmatch(value):
            raise ValueError(value)
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise _bad_query(f"modify_date_from {value!r} is not a date (yyyy-MM-dd)") from None
    return dt.datetime.combine(day, dt.time.min, tzinfo=zoneinfo.ZoneInfo(institution.time_zone))


def patron_search(
    *, institution: Institution, q: str, order_by: str, modify_date_from: str = ""
) -> QuerySet[Patron]:
    """The institution's users matching `q` (all when empty), in `order_by` order.

    `modify_date_from` keeps the users modified on or after that day instead; as in Alma it
    cannot be combined with `q` (402119).
    """
    patrons = Patron.objects.filter(institution=institution)
    if modify_date_from.strip():
        if q.strip():
            raise _bad_query(
                "the parameters q and modify_date_from are mutually exclusive; send one of them"
            )
        since = parse_modify_date_from(modify_date_from.strip(), institution=institution)
        patrons = patrons.filter(updated_at__gte=since)
    elif q.strip():
        matching = Patron.objects.filter(institution=institution).filter(parse_q(q))
        patrons = patrons.filter(pk__in=matching.values("pk"))
    return patrons.order_by(*parse_order_by(order_by))
