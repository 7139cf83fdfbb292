"""The counters of the API's limits: Alma's thresholds per institution, and each key's bucket."""

from __future__ import annotations

from django.db import models

from patronsync.accounts.models import ApiKey
from patronsync.core.models import Institution


class ApiDailyUsage(models.Model):
    """The calls of one institution's keys on one day, in the institution's time zone.

    One row per institution and day, incremented with a single `count = count + 1` upsert, so
    several web processes share it. `X-Exl-Api-Remaining` is the institution's daily threshold
    minus this count. Old days are kept: the table is the API usage report.
    """

    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["institution", "-day"]
        verbose_name_plural = "API daily usage"
        constraints = [
            models.UniqueConstraint(fields=["institution", "day"], name="api_daily_usage_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.institution_id} {self.day}: {self.count}"


class ApiSecondUsage(models.Model):
    """The calls of one institution's keys in one second (Unix time): the per-second counter.

    Rows older than a minute are deleted as new seconds begin.
    """

    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="+")
    second = models.BigIntegerField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "second"], name="api_second_usage_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.institution_id} @{self.second}: {self.count}"


class ApiKeyBucket(models.Model):
    """One API key's token bucket for one period (a minute or an hour): its own rate limit.

    A key of N calls a period holds at most N tokens and gains N per period, continuously; a
    call takes one. `tokens` is the level at `refilled_at` (Unix time). Unlike a counter per
    fixed window, no boundary lets 2N calls through in a moment. One row per key and period,
    changed by a single conditional UPDATE (see almaws/ratelimit.py), so several web processes
    share it on SQLite and PostgreSQL alike.
    """

    key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    period = models.PositiveIntegerField()  # seconds: 60 or 3600
    tokens = models.FloatField()
    refilled_at = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key", "period"], name="api_key_bucket_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.key_id} per {self.period} s: {self.tokens:.1f} tokens"
