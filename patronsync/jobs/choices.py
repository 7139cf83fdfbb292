"""Choices of jobs and their records."""

from django.db import models

# The engine's choices, re-exported: a job runs one of its kinds and records its outcomes.
from patronsync.loader.choices import SECTION_KIND_CHOICES, JobKind, RecordOutcome

__all__ = [
    "ACTIVE_STATUSES",
    "SECTION_KIND_CHOICES",
    "FileStatus",
    "GuardDecision",
    "JobKind",
    "JobStatus",
    "JobTrigger",
    "RecordOutcome",
]


class JobTrigger(models.TextChoices):
    MANUAL = "manual", "Run now"
    SCHEDULE = "schedule", "Schedule"
    API = "api", "API"


class JobStatus(models.TextChoices):
    """`failed` is an expected failure (a folder missing, a file refused); `errored` an
    unexpected exception, with its traceback in the job log."""

    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed successfully"
    COMPLETED_WITH_ERRORS = "completed_with_errors", "Completed with errors"
    FAILED = "failed", "Failed"
    ERRORED = "errored", "Errored"
    CANCELLED = "cancelled", "Cancelled"
    HELD = "held", "Held for approval"


ACTIVE_STATUSES = (JobStatus.PENDING, JobStatus.RUNNING)


class FileStatus(models.TextChoices):
    """What became of one taking of a file: `processing` while its job may still resume it."""

    PROCESSING = "processing", "Processing"
    HANDLED = "handled", "Handled"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class GuardDecision(models.TextChoices):
    """What an administrator decided about a run the mass-change guard held."""

    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
