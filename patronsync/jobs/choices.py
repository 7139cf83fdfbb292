"""Choices of jobs and their records."""

from django.db import models


class JobKind(models.TextChoices):
    IMPORT = "import", "Import"
    SYNCHRONIZE = "synchronize", "Synchronize"


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


ACTIVE_STATUSES = (JobStatus.PENDING, JobStatus.RUNNING)


class RecordOutcome(models.TextChoices):
    CREATED = "created", "Created"
    UPDATED = "updated", "Updated"
    UNCHANGED = "unchanged", "Unchanged"
    REJECTED = "rejected", "Rejected"
    WOULD_CREATE = "would_create", "Would be created"
    WOULD_UPDATE = "would_update", "Would be updated"


class FileStatus(models.TextChoices):
    PROCESSING = "processing", "Processing"
    HANDLED = "handled", "Handled"
    FAILED = "failed", "Failed"
