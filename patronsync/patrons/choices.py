"""Choices of the user store."""

from django.db import models


class AccountType(models.TextChoices):
    INTERNAL = "INTERNAL", "Internal"
    EXTERNAL = "EXTERNAL", "External"


class UserStatus(models.TextChoices):
    ACTIVE = "ACTIVE", "Active"
    INACTIVE = "INACTIVE", "Inactive"


class SegmentType(models.TextChoices):
    """Whether a segment came from the SIS (External) or was added in the library (Internal)."""

    INTERNAL = "Internal", "Internal"
    EXTERNAL = "External", "External"


class ChangeAction(models.TextChoices):
    CREATED = "created", "Created"
    UPDATED = "updated", "Updated"
    DELETED = "deleted", "Deleted"


class LeaverState(models.TextChoices):
    """What the leavers rule did to a user missing from a profile's complete feed."""

    EXPIRED = "expired", "Expired: missing from the feed"
    DEACTIVATED = "deactivated", "Deactivated: missing from the feed"


class ActorKind(models.TextChoices):
    """Who made a change. Staff and API edits mark protected fields as manually changed."""

    STAFF = "staff", "Staff account"
    API = "api", "API key"
    JOB = "job", "Job"
    SYSTEM = "system", "System"
