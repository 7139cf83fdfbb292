"""Integration profiles of type Users, with Alma's Import and Synchronize sections."""

from __future__ import annotations

from django.db import models

from patronsync.connections.models import Connection
from patronsync.core.models import Institution

from .choices import (
    PRIMARY_ID_MATCH,
    XSD_VERSION_2,
    IntegrationType,
    ProtectionMode,
    RecordType,
    Schedule,
    SynchronizationType,
    UnmatchedAction,
)


class IntegrationProfile(models.Model):
    """A Users integration profile: where its files come from and how Import and Synchronize
    treat them. The profile code becomes the external ID of the users it loads, and a
    Synchronize matches only those and users with no external ID, unless it takes over users."""

    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="profiles")
    code = models.CharField(max_length=50)
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    integration_type = models.CharField(
        max_length=20, choices=IntegrationType.choices, default=IntegrationType.USERS
    )
    system = models.CharField(max_length=255, help_text="The kind of SIS, e.g. Campus Management")
    connection = models.ForeignKey(Connection, on_delete=models.PROTECT, related_name="profiles")

    import_active = models.BooleanField(default=False)
    import_record_type = models.CharField(
        max_length=10, choices=RecordType.choices, default=RecordType.PUBLIC
    )
    import_input_path = models.CharField(max_length=1024, blank=True)
    import_xsd_version = models.CharField(max_length=5, default=XSD_VERSION_2)
    import_schedule = models.CharField(
        max_length=20, choices=Schedule.choices, default=Schedule.NOT_SCHEDULED
    )
    import_cron = models.CharField(
        max_length=255, blank=True, help_text="When the schedule is CRON: five cron fields."
    )

    sync_active = models.BooleanField(default=False)
    sync_record_type = models.CharField(
        max_length=10, choices=RecordType.choices, default=RecordType.PUBLIC
    )
    sync_match_id_type = models.CharField(max_length=255, default=PRIMARY_ID_MATCH)
    sync_type = models.CharField(
        max_length=20, choices=SynchronizationType.choices, default=SynchronizationType.SWAP_ALL
    )
    sync_unmatched = models.CharField(
        max_length=10, choices=UnmatchedAction.choices, default=UnmatchedAction.ADD
    )
    sync_input_path = models.CharField(max_length=1024, blank=True)
    sync_schedule = models.CharField(
        max_length=20, choices=Schedule.choices, default=Schedule.NOT_SCHEDULED
    )
    sync_cron = models.CharField(
        max_length=255, blank=True, help_text="When the schedule is CRON: five cron fields."
    )
    sync_xsd_version = models.CharField(max_length=5, default=XSD_VERSION_2)
    sync_take_over_users = models.BooleanField(
        default=False,
        help_text="Whether a Synchronize may match users another profile loaded (their "
        "external ID is that profile's code) and make them this profile's; off, it rejects "
        "them (OTHER_PROFILES_USER).",
    )

    # Safe synchronization (docs/configuration-file.md, `synchronize:`): the mass-change guard,
    # field ownership, protection, leavers and ordered match keys. Empty JSON means the
    # defaults; the services check and complete them.
    sync_guard = models.JSONField(
        default=dict,
        blank=True,
        help_text="The mass-change guard's settings (guard:); empty: on, with the defaults.",
    )
    sync_ownership = models.JSONField(
        default=dict,
        blank=True,
        help_text="Owner per core field or segment type: sis, library or preserve_if_empty; "
        "what is not listed is SIS-owned (ownership:).",
    )
    sync_protection = models.CharField(
        max_length=10,
        choices=ProtectionMode.choices,
        default=ProtectionMode.ALMA,
        help_text="How long a library edit of a protected field holds (protection:).",
    )
    sync_leavers = models.JSONField(
        default=dict,
        blank=True,
        help_text="Whether the feed is a complete snapshot, and when users missing from it are "
        "expired and deactivated (leavers:); empty: off.",
    )
    sync_match_id_types = models.JSONField(
        default=list,
        blank=True,
        help_text="Match ID types tried in order (match_id_types:); empty: the Match ID Type.",
    )

    purge = models.JSONField(
        default=dict,
        blank=True,
        help_text="Purge User Records of this profile's users (purge:): days past the purge "
        "date, filters and the keep policy; empty: the defaults.",
    )

    subscribers = models.TextField(
        blank=True,
        help_text="Email addresses, one per line, told when a job completes with rejections, "
        "fails, errors or is held.",
    )

    updated_by = models.CharField(max_length=255, blank=True)
    status_date = models.DateTimeField(auto_now=True)
    schedule_changed_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When a section's schedule, cron or active flag last changed: the scheduler "
        "fires no slot from before it. Other edits of the profile leave it.",
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "code"], name="profile_code_unique_per_institution"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"
