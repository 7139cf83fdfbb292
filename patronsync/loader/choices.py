"""Choices of the engine: the two kinds of load, and what became of each incoming user."""

from django.db import models


class JobKind(models.TextChoices):
    IMPORT = "import", "Import"
    SYNCHRONIZE = "synchronize", "Synchronize"
    PURGE = "purge", "Purge User Records"


# The kinds a profile's sections run (a purge is a job of its own), as form and API choices.
SECTION_KIND_CHOICES = [
    (JobKind.IMPORT.value, JobKind.IMPORT.label),
    (JobKind.SYNCHRONIZE.value, JobKind.SYNCHRONIZE.label),
]


class RecordOutcome(models.TextChoices):
    CREATED = "created", "Created"
    UPDATED = "updated", "Updated"
    UNCHANGED = "unchanged", "Unchanged"
    REJECTED = "rejected", "Rejected"
    WOULD_CREATE = "would_create", "Would be created"
    WOULD_UPDATE = "would_update", "Would be updated"
    # The leavers rule (a complete feed's missing users) and purge.
    EXPIRED = "expired", "Expired"
    WOULD_EXPIRE = "would_expire", "Would be expired"
    DEACTIVATED = "deactivated", "Deactivated"
    WOULD_DEACTIVATE = "would_deactivate", "Would be deactivated"
    REACTIVATED = "reactivated", "Reactivated"
    WOULD_REACTIVATE = "would_reactivate", "Would be reactivated"
    PURGED = "purged", "Purged"
    WOULD_PURGE = "would_purge", "Would be purged"
