"""Choices of the engine: the two kinds of load, and what became of each incoming user."""

from django.db import models


class JobKind(models.TextChoices):
    IMPORT = "import", "Import"
    SYNCHRONIZE = "synchronize", "Synchronize"


class RecordOutcome(models.TextChoices):
    CREATED = "created", "Created"
    UPDATED = "updated", "Updated"
    UNCHANGED = "unchanged", "Unchanged"
    REJECTED = "rejected", "Rejected"
    WOULD_CREATE = "would_create", "Would be created"
    WOULD_UPDATE = "would_update", "Would be updated"
