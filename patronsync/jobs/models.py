"""Jobs, the record of each incoming user, and the files received.

The `Job` row is the source of truth of a run; the Celery task or the CLI only carries its id.
`JobRecord` rows are the report: pages, API and CSV filter them.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from patronsync.core.models import Institution
from patronsync.profiles.models import IntegrationProfile

from .choices import (
    ACTIVE_STATUSES,
    FileStatus,
    GuardDecision,
    JobKind,
    JobStatus,
    JobTrigger,
    RecordOutcome,
)
from .leases import lease_from
from .modes import mode_of


class Job(models.Model):
    """One Import or Synchronize run of a profile ("Users SYNCHRONIZE using profile X").

    At most one job per profile is pending, running or held for approval: a partial unique
    constraint, which holds on SQLite and PostgreSQL alike. `parameters` are the settings the
    job runs with, taken from the profile when it was created. `checkpoint` is committed with
    every batch so that a killed job resumes where it stopped. While a job runs, its runner
    (`jobs.runner`) is the only writer of its row, and writes only the fields it owns; a cancel
    request and log lines come in through conditional and appending updates.

    A running job is held by one worker (`worker`, named per claim) until `lease_until`: every
    write of its runner renews the lease, on the condition that the job is still running and
    still held by that worker. Only a job whose lease ran out may be taken over.
    """

    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="jobs")
    profile = models.ForeignKey(IntegrationProfile, on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=12, choices=JobKind.choices)
    trigger = models.CharField(max_length=10, choices=JobTrigger.choices, default=JobTrigger.MANUAL)
    dry_run = models.BooleanField(default=False)
    status = models.CharField(max_length=24, choices=JobStatus.choices, default=JobStatus.PENDING)
    process_id = models.CharField(max_length=20, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=255, blank=True)
    cancel_requested_by = models.CharField(max_length=255, blank=True)
    total_records_processed = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    parameters = models.JSONField(default=dict)
    checkpoint = models.JSONField(default=dict, blank=True)
    files = models.JSONField(default=list, blank=True)
    log = models.TextField(blank=True)
    # How many times a worker claimed the job; a job whose workers keep dying is errored once
    # it reaches PATRONSYNC_JOB_MAX_ATTEMPTS.
    attempts = models.PositiveSmallIntegerField(default=0)
    # The slot a schedule fired for, in UTC; one job per profile, kind and slot.
    scheduled_for = models.DateTimeField(null=True, blank=True)
    # How many users the job's files hold, once counted: the total of its progress.
    users_expected = models.PositiveIntegerField(null=True, blank=True)
    # "Run again": this job loads the users that job rejected, from their kept XML, instead of
    # taking files from the server (`jobs.rerun`).
    rerun_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="reruns"
    )
    # The mass-change guard: what the run's plan would do and the thresholds it crossed, and
    # who approved or rejected a held run, when.
    guard = models.JSONField(default=dict, blank=True)
    decision = models.CharField(max_length=10, choices=GuardDecision.choices, blank=True)
    decided_by = models.CharField(max_length=255, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["profile"],
                # A held job counts: later runs of the profile wait for its decision.
                condition=Q(status__in=(*ACTIVE_STATUSES, JobStatus.HELD)),
                name="one_active_job_per_profile",
            ),
            models.UniqueConstraint(
                fields=["profile", "kind", "scheduled_for"],
                condition=Q(scheduled_for__isnull=False),
                name="one_job_per_scheduled_slot",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def title(self) -> str:
        return mode_of(self.kind).title(self.profile.name)

    @property
    def total_users_processed(self) -> int:
        return self.created + self.updated + self.unchanged + self.rejected

    @property
    def run_time(self) -> float | None:
        if not self.started_at:
            return None
        end = self.finished_at or timezone.now()
        return (end - self.started_at).total_seconds()

    @property
    def lease_expired(self) -> bool:
        """True when the job is running and no worker holds it any more: its lease ran out.

        A pending job is never expired (it waits for its first worker), nor an ended one.
        """
        if self.status != JobStatus.RUNNING:
            return False
        return self.lease_until is None or self.lease_until <= timezone.now()

    def start(self, *, worker: str) -> None:
        """Mark the job (in memory) as running on `worker`, with a fresh lease; the runner
        claims it in the database with one conditional update instead."""
        now = timezone.now()
        self.status = JobStatus.RUNNING
        self.started_at = self.started_at or now
        self.heartbeat_at = now
        self.lease_until = lease_from(now)
        self.worker = worker


class JobRecord(models.Model):
    """What happened to one incoming user: its place in the feed, match value, outcome, reason
    and field changes. Unchanged users are counted on the job, not listed (as in Alma's report,
    which lists the created, updated and rejected users)."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="records")
    file = models.CharField(max_length=512)
    entry = models.CharField(max_length=512, blank=True)
    line = models.PositiveIntegerField(null=True)
    position = models.PositiveIntegerField()
    match_value = models.CharField(max_length=255, blank=True)
    primary_id = models.CharField(max_length=255, blank=True)
    patron_id = models.BigIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=RecordOutcome.choices)
    reason_code = models.CharField(max_length=40, blank=True)
    reason = models.TextField(blank=True)
    changes = models.JSONField(default=dict, blank=True)
    # A rejected user's <user> element as the feed gave it (UTF-8 bytes), so that "Run again"
    # can load it once the cause is fixed, whatever became of the file on the server.
    raw_xml = models.BinaryField(null=True, blank=True)

    class Meta:
        ordering = ["job", "id"]
        indexes = [models.Index(fields=["job", "outcome"])]

    def __str__(self) -> str:
        return f"{self.primary_id or self.match_value}: {self.outcome}"


class ReceivedFile(models.Model):
    """The ledger of the files a profile took: one row each time a job takes a file.

    As in Alma, the `.handled` mark on the server decides what is taken, not the content: a file
    whose bytes match an earlier one is loaded again, and the row of the earlier taking (found by
    profile and sha256) names the file and job it repeats. A row stays `processing` while its
    job may still resume it.
    """

    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="+")
    profile = models.ForeignKey(
        IntegrationProfile, on_delete=models.CASCADE, related_name="received_files"
    )
    job = models.ForeignKey(Job, on_delete=models.SET_NULL, null=True, related_name="received")
    name = models.CharField(max_length=512)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    status = models.CharField(max_length=12, choices=FileStatus.choices)
    users = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(auto_now_add=True)
    handled_at = models.DateTimeField(null=True, blank=True)
    # Why the file could not be renamed to NAME.handled on the server after its users were
    # committed; while set, the file is not taken again and each run tries the rename anew.
    mark_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["profile", "sha256"], name="received_file_content")]

    def __str__(self) -> str:
        return self.name
