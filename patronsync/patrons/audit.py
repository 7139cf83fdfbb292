"""The audit trail of users: who changed what, read by time or user, exported and pruned.

Every write of a user goes through the user store (`store.patrons_write`), which adds one
`PatronChange` row per changed user: each field's before and after, and who wrote it (the
job, with the record's file, zip entry and line; the staff account; the API key; or
patronsync itself). This module reads those rows for the API and `patronsync history export`,
streams them as CSV or JSON Lines in constant memory, and removes rows older than the
retention (`PATRONSYNC_HISTORY_RETENTION_DAYS`, 0 = keep forever).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import zoneinfo
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from patronsync.core.csvsafe import csv_safe_row
from patronsync.core.exceptions import PatronsyncError
from patronsync.core.models import Institution

from .fields import PRIMARY_ID_TYPE
from .models import PatronChange, PatronIdentifier, identifier_key

EXPORT_FORMATS = ("csv", "jsonl")
# One CSV row per changed field (a row with no field: a change that names none, e.g. a
# deletion, or a user created by an Import, which keeps no before and after of each field).
CSV_COLUMNS = (
    "changed_at", "institution", "primary_id", "action", "field", "before", "after",
    "actor_kind", "actor", "staff_account", "job_id", "file", "entry", "line", "change_id",
)  # fmt: skip
# What the export reads of each row: plain values, no model instances.
_EXPORT_VALUES = (
    "id", "created_at", "institution__code", "primary_id", "action", "actor_kind",
    "actor_label", "actor_user__username", "job_id", "file", "entry", "line", "changes",
)  # fmt: skip
EXPORT_CHUNK = 2000
PRUNE_CHUNK = 5000


class HistoryFilterError(PatronsyncError):
    """A filter of the audit trail that cannot be read (a date that is not a date)."""


def history_time_bound(
    value: str | dt.date | dt.datetime | None, *, tz: dt.tzinfo, end: bool, name: str
) -> dt.datetime | None:
    """A `--since`/`--until` bound as an aware datetime.

    A date is a whole day in `tz` (the institution's time zone): `since` from its start,
    `until` to its end. A datetime without an offset is in `tz` too. `name` is the option's
    name, for the error.
    """
    if value in (None, ""):
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed: dt.date | dt.datetime = (
                dt.date.fromisoformat(text) if len(text) == 10 else dt.datetime.fromisoformat(text)
            )
        except ValueError:
            raise HistoryFilterError(
                f"{name}: {value!r} is not a date or a time; expected YYYY-MM-DD or "
                "YYYY-MM-DDTHH:MM (in the institution's time zone unless it has an offset)"
            ) from None
        value = parsed
    if not isinstance(value, dt.datetime):
        day = dt.datetime.combine(value, dt.time.min)
        if end:
            day += dt.timedelta(days=1)
        return day.replace(tzinfo=tz)
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value


def history_filter(
    *,
    institutions: QuerySet[Institution] | Iterable[Institution],
    primary_id: str = "",
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    job_id: int | None = None,
) -> QuerySet[PatronChange]:
    """The changes of users of `institutions`, newest first: of one user (`primary_id`), from
    `since` (included) to `until` (excluded), of one job.

    A user is the user whose primary ID it is now: all its changes, under any earlier primary
    ID too. When no user has that primary ID, the changes of deleted users made under it
    (case aside): a deleted user's history stays readable.
    """
    rows = PatronChange.objects.filter(institution__in=institutions)
    if primary_id:
        value = primary_id.strip()
        holders = list(
            PatronIdentifier.objects.filter(
                institution__in=institutions,
                id_type=PRIMARY_ID_TYPE,
                value_key=identifier_key(value),
            ).values_list("patron_id", flat=True)
        )
        # A user's rows by its index; a deleted user's (no user any more) by the name.
        if holders:
            rows = rows.filter(patron_id__in=holders)
        else:
            rows = rows.filter(patron__isnull=True, primary_id__iexact=value)
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    if until is not None:
        rows = rows.filter(created_at__lt=until)
    if job_id is not None:
        rows = rows.filter(job_id=job_id)
    return rows.select_related("institution", "actor_user").order_by("-created_at", "-id")


def change_actor(kind: str, label: str, username: str | None, job_id: int | None) -> dict[str, Any]:
    """Who made a change, as the API and the export give it."""
    return {
        "kind": kind,
        "label": label,
        "staff_account": username or "",
        "job_id": job_id,
    }


def _cell(value: Any) -> str:
    """A before/after value as one CSV cell: text as it is, anything else as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _export_rows(changes: QuerySet[PatronChange]) -> Iterator[tuple[Any, ...]]:
    """The rows' plain values, oldest first, read in chunks (constant memory)."""
    ordered = changes.order_by("created_at", "id").values_list(*_EXPORT_VALUES)
    return ordered.iterator(chunk_size=EXPORT_CHUNK)


def history_export(*, changes: QuerySet[PatronChange], fmt: str, out: TextIO) -> int:
    """Write `changes`, oldest first, to `out` as CSV (one row per changed field, cells a
    spreadsheet reads as text: `core.csvsafe`) or JSON Lines (one object per change); returns
    the number of changes written. Streams: memory does not grow with the trail."""
    if fmt not in EXPORT_FORMATS:
        raise HistoryFilterError(f"format: {fmt!r}; expected one of {', '.join(EXPORT_FORMATS)}")
    count = 0
    writer = csv.writer(out) if fmt == "csv" else None
    if writer is not None:
        writer.writerow(CSV_COLUMNS)
    for row in _export_rows(changes):
        pk, at, code, primary_id, action, kind, label, username, job_id = row[:9]
        file, entry, line, fields = row[9:]
        count += 1
        when = at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        if writer is None:
            record = {
                "change_id": pk,
                "changed_at": when,
                "institution": code,
                "primary_id": primary_id,
                "action": action,
                "actor": change_actor(kind, label, username, job_id),
                "source": {"file": file, "entry": entry, "line": line} if file else None,
                "changes": fields or {},
            }
            out.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
            continue
        common = (kind, label, username or "", job_id or "", file, entry, line or "", pk)
        items = [(n, v) for n, v in (fields or {}).items() if isinstance(v, dict)] or [("", {})]
        for name, values in items:
            before, after = _cell(values.get("before")), _cell(values.get("after"))
            head = (when, code, primary_id, action, name, before, after)
            writer.writerow(csv_safe_row((*head, *common)))
    return count


def history_retention_days() -> int:
    """How many days the audit trail keeps a change (PATRONSYNC_HISTORY_RETENTION_DAYS);
    0: forever."""
    return int(getattr(settings, "PATRONSYNC_HISTORY_RETENTION_DAYS", 0) or 0)


def history_prune(
    *,
    days: int | None = None,
    institution: Institution | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Remove the changes older than `days` (default: the retention setting) of one
    institution or all; returns how many were removed. 0 days: keep forever (none removed).

    Deletes in chunks of PRUNE_CHUNK rows, each its own short statement, so a first prune of
    years of history does not hold one huge transaction.
    """
    keep = history_retention_days() if days is None else days
    if keep < 0:
        raise HistoryFilterError(f"days: {keep}; expected 0 (keep forever) or more")
    if keep == 0:
        return 0
    cutoff = (now or timezone.now()) - dt.timedelta(days=keep)
    rows = PatronChange.objects.filter(created_at__lt=cutoff)
    if institution is not None:
        rows = rows.filter(institution=institution)
    removed = 0
    while ids := list(rows.order_by("id").values_list("id", flat=True)[:PRUNE_CHUNK]):
        deleted, _ = PatronChange.objects.filter(id__in=ids).delete()
        removed += deleted
    return removed


def institution_zone(institution: Institution | None) -> dt.tzinfo:
    """The time zone dates of the audit trail are read in: the institution's, else UTC."""
    if institution is None:
        return dt.UTC
    try:
        return zoneinfo.ZoneInfo(institution.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC
