"""The user store: one row per user, its identifiers in an indexed table, its history.

Shaped for bulk work. A user's core fields are columns; its other segments (addresses, emails,
phones, notes, blocks, statistics, roles, RS libraries, library notices) are one JSON column that a
synchronize replaces in one write. Identifiers, the primary ID included, have their own table with
an institution-wide unique key, so uniqueness is enforced by the database and a batch of thousands
of match values is looked up with one indexed query.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from patronsync.core.models import Institution

from .choices import AccountType, ActorKind, ChangeAction, LeaverState, SegmentType, UserStatus
from .limits import MAX_LENGTH, identifier_key

__all__ = ["Patron", "PatronChange", "PatronIdentifier", "identifier_key"]


class Patron(models.Model):
    """An Alma user (patron) of one institution.

    `protection` holds, per protected field, `{"manual": bool, "sis": last value from the SIS}`:
    Swap All keeps a field that staff changed, and lets it follow the SIS again when a feed
    repeats the last SIS value. `content_hash` and `raw_hash` are the sync engine's change
    detectors (normalized content, and the raw bytes of the last feed record).
    """

    institution = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="patrons")
    primary_id = models.CharField(max_length=MAX_LENGTH)
    record_type = models.CharField(max_length=MAX_LENGTH, default="PUBLIC")
    first_name = models.CharField(max_length=MAX_LENGTH, blank=True)
    middle_name = models.CharField(max_length=MAX_LENGTH, blank=True)
    last_name = models.CharField(max_length=MAX_LENGTH, blank=True)
    pin_hash = models.CharField(max_length=MAX_LENGTH, blank=True)
    user_title = models.CharField(max_length=MAX_LENGTH, blank=True)
    job_category = models.CharField(max_length=MAX_LENGTH, blank=True)
    job_description = models.CharField(max_length=MAX_LENGTH, blank=True)
    gender = models.CharField(max_length=MAX_LENGTH, blank=True)
    user_group = models.CharField(max_length=MAX_LENGTH, blank=True)
    campus_code = models.CharField(max_length=MAX_LENGTH, blank=True)
    web_site_url = models.CharField(max_length=MAX_LENGTH, blank=True)
    cataloger_level = models.CharField(max_length=MAX_LENGTH, blank=True)
    preferred_language = models.CharField(max_length=MAX_LENGTH, default="en")
    birth_date = models.DateField(null=True, blank=True)
    expiry_date = models.DateField(null=True, blank=True)
    purge_date = models.DateField(null=True, blank=True)
    account_type = models.CharField(
        max_length=10, choices=AccountType.choices, default=AccountType.EXTERNAL
    )
    external_id = models.CharField(max_length=MAX_LENGTH, blank=True)
    password_hash = models.CharField(max_length=MAX_LENGTH, blank=True)
    force_password_change = models.CharField(max_length=4, blank=True)
    status = models.CharField(max_length=10, choices=UserStatus.choices, default=UserStatus.ACTIVE)
    status_date = models.DateField(null=True, blank=True)
    pref_first_name = models.CharField(max_length=MAX_LENGTH, blank=True)
    pref_middle_name = models.CharField(max_length=MAX_LENGTH, blank=True)
    pref_last_name = models.CharField(max_length=MAX_LENGTH, blank=True)
    pref_name_suffix = models.CharField(max_length=MAX_LENGTH, blank=True)
    is_researcher = models.BooleanField(default=False)
    researcher = models.TextField(blank=True)  # Esploro researcher data, kept as it came (XML)
    segments = models.JSONField(default=dict, blank=True)
    protection = models.JSONField(default=dict, blank=True)
    # Search keys (`search.search_key` of the names and the preferred email), filled by the
    # store's writer: staff find users by their prefix, without regard to case or accents.
    last_name_key = models.CharField(max_length=MAX_LENGTH, blank=True, editable=False)
    first_name_key = models.CharField(max_length=MAX_LENGTH, blank=True, editable=False)
    email_key = models.CharField(max_length=MAX_LENGTH, blank=True, editable=False)
    content_hash = models.CharField(max_length=64, blank=True)
    raw_hash = models.CharField(max_length=64, blank=True)
    # Leavers (a profile whose feed is a complete snapshot): how many complete runs in a row,
    # and since when, the user has been missing from it, and what the rule did about it. Staff
    # set `exempt` to keep a user out of the leavers rule and of purge.
    # db_default too: the engine inserts rows with explicit column lists (core.bulk).
    exempt = models.BooleanField(
        default=False,
        db_default=False,
        help_text="Staff-set exemption: the leavers rule and purge leave this user alone.",
    )
    missing_runs = models.PositiveIntegerField(default=0, db_default=0, editable=False)
    missing_since = models.DateField(null=True, blank=True, editable=False)
    leaver_state = models.CharField(
        max_length=12,
        choices=LeaverState.choices,
        blank=True,
        default="",
        db_default="",
        editable=False,
    )
    # When the leavers rule took its last step (expired the user, or deactivated it).
    leaver_since = models.DateField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["last_name", "first_name", "primary_id"]
        # No unique index on the primary ID itself: it is unique through its identifier row
        # (type `primary_id`), whose key is computed in Python (`identifier_key`), so SQLite and
        # PostgreSQL refuse the same values (a `lower()` of the database folds differently).
        # The key indexes compare bytes (PostgreSQL's pattern operators; SQLite's BINARY), so a
        # prefix search is an index range whatever the database's collation.
        indexes = [
            models.Index(fields=["institution", "last_name", "first_name"]),
            models.Index(
                fields=["institution", "last_name_key", "first_name_key"],
                name="patron_last_name_key",
                opclasses=["int8_ops", "varchar_pattern_ops", "varchar_pattern_ops"],
            ),
            models.Index(
                fields=["institution", "first_name_key"],
                name="patron_first_name_key",
                opclasses=["int8_ops", "varchar_pattern_ops"],
            ),
            models.Index(
                fields=["institution", "email_key"],
                name="patron_email_key",
                opclasses=["int8_ops", "varchar_pattern_ops"],
            ),
        ]

    def __str__(self) -> str:
        return f"{self.primary_id} ({self.full_name})"

    @property
    def full_name(self) -> str:
        return " ".join(n for n in (self.first_name, self.middle_name, self.last_name) if n)

    def is_manually_changed(self, field: str) -> bool:
        state: dict[str, Any] = self.protection.get(field) or {}
        return bool(state.get("manual"))


class PatronIdentifier(models.Model):
    """One identifier of a user (the primary ID is stored here too, as type `primary_id`).

    `value_key` (`identifier_key` of the value: NFC, case-folded) is unique per institution: no
    two users, and no two identifiers of one user, share a value.
    """

    # No index of its own: the unique (institution, value_key) index serves institution lookups,
    # and a second index only slows bulk inserts (and lures the planner into scanning it).
    institution = models.ForeignKey(
        Institution, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    patron = models.ForeignKey(Patron, on_delete=models.CASCADE, related_name="identifiers")
    id_type = models.CharField(max_length=MAX_LENGTH)
    value = models.CharField(max_length=MAX_LENGTH)
    value_key = models.CharField(max_length=MAX_LENGTH)
    note = models.TextField(blank=True)
    status = models.CharField(max_length=MAX_LENGTH, blank=True)
    segment_type = models.CharField(
        max_length=10, choices=SegmentType.choices, default=SegmentType.EXTERNAL
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["patron_id", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "value_key"], name="identifier_unique_per_institution"
            ),
        ]
        indexes = [models.Index(fields=["patron", "id_type"])]

    def __str__(self) -> str:
        return f"{self.id_type}={self.value}"


class PatronChange(models.Model):
    """One change to one user: who (staff account, API key or job), when, and each field's
    before and after values. Kept after the user is deleted, for the audit trail."""

    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="+")
    patron = models.ForeignKey(
        Patron, on_delete=models.SET_NULL, null=True, blank=True, related_name="changes"
    )
    primary_id = models.CharField(max_length=MAX_LENGTH)
    action = models.CharField(max_length=10, choices=ChangeAction.choices)
    actor_kind = models.CharField(max_length=10, choices=ActorKind.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=MAX_LENGTH, blank=True)
    job_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    # Where a job's change came from: the file (a zip), its entry and the user's line.
    file = models.CharField(max_length=512, blank=True, default="", db_default="")
    entry = models.CharField(max_length=512, blank=True, default="", db_default="")
    line = models.PositiveIntegerField(null=True, blank=True)
    changes = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["patron", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.primary_id} {self.action} by {self.actor_label or self.actor_kind}"
