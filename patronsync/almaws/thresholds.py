"""Alma's governance thresholds, per institution: calls per second, and the daily plan.

Alma counts every API call of an institution, whichever key makes it. Past the per-second
threshold (25 by default) it answers 429 `PER_SECOND_THRESHOLD`; past the daily plan (1,000 per
named user, often 100,000) 429 `DAILY_THRESHOLD` until midnight. `X-Exl-Api-Remaining` carries
the calls left today. The counters are database rows incremented by one upsert statement, so
every web process shares them on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any, cast

from django.db import connection, models, transaction
from django.utils import timezone

from patronsync.core.models import Institution

from .errors import AlmaError
from .models import ApiDailyUsage, ApiSecondUsage

REMAINING_HEADER = "X-Exl-Api-Remaining"
THRESHOLD_DOCS = "https://developers.exlibrisgroup.com/alma/apis/#threshold"
PER_SECOND_MESSAGE = "HTTP requests are more than allowed per second"
DAILY_MESSAGE = f"Daily API Request Threshold has been reached. For details see: {THRESHOLD_DOCS}"
SECONDS_KEPT = 60


def _count_one(model: type[models.Model], key: dict[str, Any], *, limit: int) -> int | None:
    """Add one to the counter row of `key` (created at 1) unless it has reached `limit`.

    Returns the new count, or None when the counter was full (the call is refused and not
    counted). One `INSERT ... ON CONFLICT DO UPDATE SET count = count + 1 WHERE count < limit`
    statement, so concurrent calls from several processes never lose or pass an increment.
    """
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    fields = [cast("models.Field[Any, Any]", model._meta.get_field(name)) for name in key]
    names = [quote(str(field.column)) for field in fields]
    columns = ", ".join(names)
    where = " AND ".join(f"{name} = %s" for name in names)
    values = [
        field.get_db_prep_value(value, connection)
        for field, value in zip(fields, key.values(), strict=True)
    ]
    count = quote("count")
    placeholders = ", ".join(["%s"] * len(values))
    upsert = (
        f"INSERT INTO {table} ({columns}, {count}) VALUES ({placeholders}, 1) "  # noqa: S608
        f"ON CONFLICT ({columns}) DO UPDATE SET {count} = {table}.{count} + 1 "
        f"WHERE {table}.{count} < %s"
    )
    if connection.features.can_return_columns_from_insert:
        with connection.cursor() as cursor:
            cursor.execute(f"{upsert} RETURNING {count}", [*values, limit])
            row = cursor.fetchone()
            return None if row is None else int(row[0])
    # SQLite before 3.35 has no RETURNING: the upsert holds the write lock until the end of the
    # transaction, so the count read inside it is this call's.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(upsert, [*values, limit])
        if cursor.rowcount == 0:
            return None
        cursor.execute(f"SELECT {count} FROM {table} WHERE {where}", values)  # noqa: S608
        return int(cursor.fetchone()[0])


def _today(institution: Institution, now: dt.datetime) -> dt.date:
    """The date at `now` in the institution's time zone: its day ends at its own midnight."""
    return timezone.localtime(now, zoneinfo.ZoneInfo(institution.time_zone)).date()


def api_remaining_today(*, institution: Institution, now: dt.datetime | None = None) -> int:
    """The calls the institution has left today, without counting one."""
    day = _today(institution, now or timezone.now())
    used = (
        ApiDailyUsage.objects.filter(institution=institution, day=day)
        .values_list("count", flat=True)
        .first()
    )
    return max(institution.api_daily_threshold - (used or 0), 0)


def api_call_count(*, institution: Institution, now: dt.datetime | None = None) -> int:
    """Count one call of `institution` against its thresholds; returns the calls left today.

    The per-second threshold is checked first. A refused call is not counted: the daily count
    is the number of calls answered. Raises AlmaError 429 `PER_SECOND_THRESHOLD` (with
    Retry-After: 1) or `DAILY_THRESHOLD` (none: the plan renews at midnight, and clients that
    honour Retry-After would otherwise sleep for hours), each carrying the daily remainder.
    """
    now = now or timezone.now()
    if institution.api_per_second_threshold:
        second = int(now.timestamp())
        in_second = _count_one(
            ApiSecondUsage,
            {"institution": institution.pk, "second": second},
            limit=institution.api_per_second_threshold,
        )
        if in_second is None:
            left = api_remaining_today(institution=institution, now=now)
            raise AlmaError(
                "PER_SECOND_THRESHOLD",
                PER_SECOND_MESSAGE,
                status=429,
                headers={"Retry-After": "1", REMAINING_HEADER: str(left)},
            )
        if in_second == 1:  # a new second: forget the old ones
            ApiSecondUsage.objects.filter(
                institution=institution, second__lt=second - SECONDS_KEPT
            ).delete()
    used = _count_one(
        ApiDailyUsage,
        {"institution": institution.pk, "day": _today(institution, now)},
        limit=institution.api_daily_threshold,
    )
    if used is None:
        raise AlmaError(
            "DAILY_THRESHOLD", DAILY_MESSAGE, status=429, headers={REMAINING_HEADER: "0"}
        )
    return institution.api_daily_threshold - used
