"""The `q` and `order_by` parameters of GET /users, turned into a query on the user store."""

from __future__ import annotations

import datetime as dt
import re
from functools import reduce

from django.db.models import Q, QuerySet

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
SEGMENT_FIELDS = {
    "email": "segments__email",
    "phone_number": "segments__phone",
    "note_text": "segments__user_note",
    "note_type": "segments__user_note",
    "block_type": "segments__user_block",
    "statistic_category": "segments__user_statistic",
}
SEARCH_FIELDS = sorted(
    {*TEXT_FIELDS, *CODE_FIELDS, *SEGMENT_FIELDS, "identifiers", "birth_date", "ALL"}
)
ORDER_FIELDS = ("last_name", "first_name", "primary_id")
DEFAULT_ORDER = "last_name, first_name, primary_id"
_COMBINER = re.compile(r"\s+(AND|OR)\s+")


def _bad_query(message: str) -> AlmaError:
    return AlmaError("402119", f"General error: {message}")


def _condition(term: str) -> Q:
    """One `field~value` term; `*` in the value is ignored (matching is by 'contains')."""
    name, sep, raw = term.partition("~")
    name, value = name.strip(), raw.replace("*", "").strip()
    if not sep or not name:
        raise _bad_query(f"the search term {term!r} is not of the form field~value")
    if name in TEXT_FIELDS:
        return Q(**{f"{TEXT_FIELDS[name]}__icontains": value})
    if name in CODE_FIELDS:
        return Q(**{f"{CODE_FIELDS[name]}__iexact": value})
    if name in SEGMENT_FIELDS:
        return Q(**{f"{SEGMENT_FIELDS[name]}__icontains": value})
    if name == "identifiers":
        return Q(identifiers__value_key__contains=identifier_key(value))
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
                Q(segments__email__icontains=value),
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


def patron_search(*, institution: Institution, q: str, order_by: str) -> QuerySet[Patron]:
    """The institution's users matching `q` (all when empty), in `order_by` order."""
    patrons = Patron.objects.filter(institution=institution)
    if q.strip():
        matching = Patron.objects.filter(institution=institution).filter(parse_q(q))
        patrons = patrons.filter(pk__in=matching.values("pk"))
    return patrons.order_by(*parse_order_by(order_by))
