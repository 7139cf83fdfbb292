"""Choices of notifications: the job ends a webhook may be sent for."""

from django.db import models


class JobEndEvent(models.TextChoices):
    """A job's final status, as a webhook's `events` name them (none: every end)."""

    COMPLETED = "completed", "Completed successfully"
    COMPLETED_WITH_ERRORS = "completed_with_errors", "Completed with errors"
    FAILED = "failed", "Failed"
    ERRORED = "errored", "Errored"
    CANCELLED = "cancelled", "Cancelled"
    HELD = "held", "Held"


# The ends that need someone: a profile's subscribers get an email for these.
ATTENTION_STATUSES = frozenset(
    {
        JobEndEvent.COMPLETED_WITH_ERRORS,
        JobEndEvent.FAILED,
        JobEndEvent.ERRORED,
        JobEndEvent.HELD,
    }
)
