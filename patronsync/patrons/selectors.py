"""Reads on users worth naming: lookups by primary ID or identifier, and the Alma JSON form."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db.models import QuerySet

from patronsync.core.models import Institution
from patronsync.core.selectors import CodeTables

from .fields import CONTACT_SEGMENTS, CORE_FIELDS, OTHER_SEGMENTS, PRIMARY_ID_TYPE, SEGMENT_CODES
from .models import Patron, PatronChange, PatronIdentifier, identifier_key

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


def patron_history(*, patron: Patron) -> QuerySet[PatronChange]:
    return PatronChange.objects.filter(patron=patron).select_related("actor_user")


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
