"""The counters of Alma's governance thresholds: calls per institution per day and per second."""

from __future__ import annotations

from django.db import models

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
