"""Choices of integration profiles, with Alma's values."""

from django.db import models


class IntegrationType(models.TextChoices):
    USERS = "USERS", "Users"


class RecordType(models.TextChoices):
    PUBLIC = "PUBLIC", "Public"
    STAFF = "STAFF", "Staff"
    CONTACT = "CONTACT", "Contact"


class SynchronizationType(models.TextChoices):
    SWAP_ALL = "SWAP_ALL", "Swap All"


class UnmatchedAction(models.TextChoices):
    ADD = "ADD", "Add"
    REJECT = "REJECT", "Reject"


class Schedule(models.TextChoices):
    """Alma offers a fixed menu of times rather than free cron expressions."""

    NOT_SCHEDULED = "NOT_SCHEDULED", "Not scheduled"
    HOURLY = "HOURLY", "Every hour"
    EVERY_6_HOURS = "EVERY_6_HOURS", "Every 6 hours beginning at 04:00"
    DAILY_0100 = "DAILY_0100", "Every day at 01:00"
    DAILY_0300 = "DAILY_0300", "Every day at 03:00"
    DAILY_0500 = "DAILY_0500", "Every day at 05:00"
    DAILY_0700 = "DAILY_0700", "Every day at 07:00"
    DAILY_1100 = "DAILY_1100", "Every day at 11:00"
    WEEKLY_MON_0200 = "WEEKLY_MON_0200", "Every Monday at 02:00"
    CRON = "CRON", "Cron expression"


class ProtectionMode(models.TextChoices):
    """How long a library edit of a protected field holds against the feed."""

    ALMA = "alma", "Alma's rule: held until the SIS repeats its last value"
    STICKY = "sticky", "Sticky: held until staff press Restore"


class FieldOwner(models.TextChoices):
    """Who owns a core field or a segment type of a profile's users (`sync_ownership`)."""

    SIS = "sis", "SIS-owned (Swap All)"
    LIBRARY = "library", "Library-owned (a feed never touches it)"
    PRESERVE_IF_EMPTY = "preserve_if_empty", "Preserve if empty (an empty value keeps the old)"


PRIMARY_ID_MATCH = "PRIMARY_ID"
XSD_VERSION_2 = "2"
