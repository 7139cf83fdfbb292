"""Reads on users worth naming: lookups by primary ID or identifier, and the Alma JSON form."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

from django.db import connection
from django.db.models import Case, F, FilteredRelation, Q, QuerySet, Value, When

from patronsync.core.models import Institution
from patronsync.core.selectors import CodeTables

from .fields import CONTACT_SEGMENTS, CORE_FIELDS, OTHER_SEGMENTS, PRIMARY_ID_TYPE, SEGMENT_CODES
from .models import Patron, PatronChange, PatronIdentifier, identifier_key
from .search import SEARCH_KEY_FIELDS, search_key

ALL_UNIQUE = "all_unique"


def patron_get_by_primary_id(*, institution: Institution, primary_id: str) -> Patron | None:
    """The user whose primary ID is `primary_id`, compared case-insensitively as Alma does."""
    return patron_get_by_identifier(
        institution=institution, id_type=PRIMARY_ID_TYPE, value=primary_id
    )


def patron_get_by_identifier(
    *, institution: Institution, id_type: str, value: str
) -> Patron | None:
    """The user holding `value` as an identifier of `id_type`.

    `id_type` is an identifier type code, `primary_id`, or `all_unique` (any identifier or the
    primary ID, Alma's default for GET /users/{id}).
    """
    lookup = PatronIdentifier.objects.filter(
        institution=institution, value_key=identifier_key(value)
    )
    if id_type != ALL_UNIQUE:
        lookup = lookup.filter(id_type=id_type)
    row = lookup.select_related("patron").first()
    return row.patron if row else None


def patron_ids_by_match_values(
    *, institution: Institution, id_type: str, values: list[str]
) -> dict[str, int]:
    """Bulk lookup for the sync engine: {value_key: patron id} for thousands of values at once."""
    keys = [identifier_key(v) for v in values]
    rows = PatronIdentifier.objects.filter(institution=institution, value_key__in=keys)
    if id_type != ALL_UNIQUE:
        rows = rows.filter(id_type=id_type)
    return dict(rows.values_list("value_key", "patron_id"))


def patron_raw_hashes(*, institution: Institution) -> Iterator[str]:
    """The raw hash of every user of `institution` that has one (see `Patron.raw_hash`), in
    ascending order."""
    rows = Patron.objects.filter(institution=institution).exclude(raw_hash="")
    return rows.order_by("raw_hash").values_list("raw_hash", flat=True).iterator(chunk_size=20_000)


def patron_raw_hashes_with_match(
    *, institution: Institution, id_type: str, profile_code: str, record_type: str
) -> Iterator[tuple[str, int, str]]:
    """(raw hash, user id, value key) of every user of `institution` that has a raw hash, in
    ascending order of hash: the value key is the user's identifier of `id_type` (one row for
    each such identifier).

    The user id is 0 for a user that a record with its stored bytes is not simply kept for:
    not external, not of profile `profile_code`, of another record type than `record_type`
    (when one is given), or without an identifier of `id_type`.
    """
    kept = Q(account_type="EXTERNAL", external_id=profile_code, match__value_key__isnull=False)
    if record_type:
        kept &= Q(record_type=record_type)
    rows = (
        Patron.objects.filter(institution=institution)
        .exclude(raw_hash="")
        .annotate(match=FilteredRelation("identifiers", condition=Q(identifiers__id_type=id_type)))
        .annotate(kept=Case(When(kept, then=F("id")), default=Value(0)))
        .order_by("raw_hash")
        .values_list("raw_hash", "kept", "match__value_key")
    )
    return rows.iterator(chunk_size=20_000)  # type: ignore[return-value]


def patron_version(patron: Patron) -> str:
    """A stamp of the user as stored: an edit page sends it back, and a save is refused when
    the user changed in between (a job, the API or another member of staff wrote it)."""
    state = [
        patron.updated_at.isoformat() if patron.updated_at else "",
        patron.content_hash,
        patron.raw_hash,
        json.dumps(patron.protection, sort_keys=True, default=str),
    ]
    return hashlib.sha256("\n".join(state).encode()).hexdigest()[:20]


def patron_history(*, patron: Patron) -> QuerySet[PatronChange]:
    """The user's changes, newest first, with the staff account that made each."""
    return PatronChange.objects.filter(patron=patron).select_related("actor_user")


# Above every character a key can hold: `key >= p AND key < p + TOP` is "starts with p".
_TOP = "\U0010ffff"
# The words of a query that are tried as first and last name (each split is two branches).
MAX_WORDS = 5


def _starts(column: str, prefix: str) -> Q:
    """`column` starts with `prefix`, as a range of the column's byte-ordered index.

    PostgreSQL: LIKE 'prefix%', which its `varchar_pattern_ops` index answers whatever the
    database's collation. SQLite: a range (its LIKE ignores a BINARY index).
    """
    if connection.vendor == "postgresql":
        return Q(**{f"{column}__startswith": prefix})
    return Q(**{f"{column}__gte": prefix, f"{column}__lt": prefix + _TOP})


def _search_branches(institution: Institution, text: str) -> list[QuerySet[Any]]:
    """One id query per way `text` can find a user, each answered by one index."""
    branches: list[QuerySet[Any]] = []
    if "\x00" not in text:  # no identifier holds a NUL (PostgreSQL cannot even compare one)
        branches.append(
            PatronIdentifier.objects.filter(institution=institution, value_key=identifier_key(text))
            .order_by()
            .values("patron_id")
        )
    key = search_key(text.replace("\x00", ""))
    if not key:
        return branches
    conditions = [_starts(name, key) for name in SEARCH_KEY_FIELDS]
    words = key.split(" ")[:MAX_WORDS]
    for cut in range(1, len(words)):
        head, tail = " ".join(words[:cut]), " ".join(words[cut:])
        conditions.append(_starts("last_name_key", tail) & _starts("first_name_key", head))
        conditions.append(_starts("last_name_key", head) & _starts("first_name_key", tail))
    users = Patron.objects.filter(institution=institution).order_by()
    branches += [users.filter(condition).values("pk") for condition in conditions]
    return branches


def patron_search(*, institution: Institution, query: str) -> QuerySet[Patron]:
    """The institution's users that a user manager's `query` finds; all of them when empty.

    A query finds a user whose primary ID or any identifier it is (case-insensitively), or whose
    last name, first name or preferred email starts with it, without regard to case or accents
    ("muller" finds Müller); words may be split between first and last name, in either order
    ("anna mul", "müller anna").

    Each way is its own indexed query (see `Patron.Meta.indexes`) and the users found are their
    UNION: one query with OR would let SQLite prefer walking the whole institution.
    """
    patrons = Patron.objects.filter(institution=institution)
    text = query.strip()
    if not text:
        return patrons
    branches = _search_branches(institution, text)
    if not branches:
        return patrons.none()
    first, *others = branches
    return patrons.filter(pk__in=first.union(*others) if others else first)


def _with_desc(kind: str, item: dict[str, Any], codes: CodeTables | None) -> dict[str, Any]:
    if codes is None:
        return item
    out = dict(item)
    for key, table in SEGMENT_CODES.get(kind, {}).items():
        value = out.get(key)
        if isinstance(value, list):
            out[key] = [{**v, "desc": codes.description(table, v["value"])} for v in value]
        elif isinstance(value, dict):
            out[key] = {**value, "desc": codes.description(table, value["value"])}
    return out


def patron_to_json(patron: Patron, *, codes: CodeTables | None = None) -> dict[str, Any]:
    """The user in Alma's JSON form (SPEC §5.4); code descriptions filled from `codes` if given.

    Secrets are never returned: the PIN and password come back empty, as in Alma.
    """
    data: dict[str, Any] = {}
    for name, spec in CORE_FIELDS.items():
        if spec.kind == "secret":
            continue
        value = getattr(patron, name)
        if spec.kind == "code":
            if value:
                desc = codes.description(spec.table, value) if codes and spec.table else None
                data[name] = {"value": value, "desc": desc}
        elif spec.kind == "date":
            if value:
                data[name] = value.isoformat() + "Z"
        elif spec.kind == "bool":
            data[name] = bool(value)
        elif value:
            data[name] = value
    data["full_name"] = patron.full_name
    data["contact_info"] = {
        kind: [_with_desc(kind, item, codes) for item in patron.segments.get(kind, [])]
        for kind in CONTACT_SEGMENTS
    }
    data["user_identifier"] = [
        _with_desc(
            "user_identifier",
            {
                "id_type": {"value": i.id_type},
                "value": i.value,
                **({"note": i.note} if i.note else {}),
                **({"status": i.status} if i.status else {}),
                "segment_type": i.segment_type,
            },
            codes,
        )
        for i in patron.identifiers.all()
        if i.id_type != PRIMARY_ID_TYPE
    ]
    for kind in OTHER_SEGMENTS:
        data[kind] = [_with_desc(kind, item, codes) for item in patron.segments.get(kind, [])]
    if patron.researcher:
        data["researcher"] = patron.researcher
    return data
