"""Institutions and their code tables."""

from __future__ import annotations

import zoneinfo

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models

from .choices import CodeTableName


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"Unknown time zone {value!r}")


class Institution(models.Model):
    """A library (or consortium member). Every user, code table, profile and job belongs to one.

    Uniqueness rules (primary IDs, identifiers, profile codes) hold per institution, so one
    patronsync can host a whole consortium.
    """

    code = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=255)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    # Alma's governance thresholds of the Alma-compatible API, counted for all the
    # institution's keys together (see docs/api.md).
    api_daily_threshold = models.PositiveIntegerField(
        "API calls per day",
        default=100_000,
        validators=[MinValueValidator(1)],
        help_text="The daily plan of /almaws/v1/ calls, reset at midnight in the institution's "
        "time zone (Alma: 1,000 per named user). X-Exl-Api-Remaining counts down from it.",
    )
    api_per_second_threshold = models.PositiveIntegerField(
        "API calls per second",
        default=25,
        help_text="Calls per second to /almaws/v1/ before PER_SECOND_THRESHOLD (429); "
        "0 means no per-second threshold.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class CodeTableEntry(models.Model):
    """One value of an institution's code table, e.g. UserGroups / FACULTY "Faculty"."""

    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="codes")
    table = models.CharField(max_length=64, choices=CodeTableName.choices, db_index=True)
    code = models.CharField(max_length=255)
    description = models.CharField(max_length=1000, blank=True)
    is_default = models.BooleanField(default=False)
    enabled = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["table", "position", "code"]
        verbose_name_plural = "code table entries"
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "table", "code"], name="code_unique_per_table"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.table}/{self.code}"
