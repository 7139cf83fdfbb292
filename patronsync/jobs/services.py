"""Creating, starting, cancelling and approving jobs; running them is the runner's.

`job_create` writes the pending job with the settings it will run with (`job.parameters`).
`profile_run` then runs it in this process (the CLI's `run`); `job_start`, for the API, only
creates it: the web process never runs a job, a worker does (`patronsync worker --once`). While a
job runs, `jobs.runner` is the only writer of its row; `job_cancel` only asks it to stop, with
conditional updates that append to its log.
"""

from __future__ import annotations

import logging
import os
import time

from django.db import IntegrityError, transaction
from django.utils import timezone

from patronsync.loader.pipeline import Progress
from patronsync.profiles.models import IntegrationProfile

from .choices import ACTIVE_STATUSES, JobStatus, JobTrigger
from .exceptions import JobAlreadyRunning, JobNotCancellable, JobNotHeld, SectionNotActive
from .models import Job
from .modes import mode_of
from .runner import job_is_stale, job_run, log_appended, log_line

__all__ = [
    "JobAlreadyRunning",
    "JobNotCancellable",
    "JobNotHeld",
    "SectionNotActive",
    "job_approve",
    "job_cancel",
    "job_create",
    "job_start",
    "profile_run",
]

logger = logging.getLogger(__name__)


def _process_id() -> str:
    """A numeric Process ID as Alma shows it (milliseconds since the epoch, then a counter)."""
    base = int(time.time() * 1000)
    while True:
        candidate = f"{base}{os.getpid() % 1000:03d}"
        if not Job.objects.filter(process_id=candidate).exists():
            return candidate
        base += 1


def job_create(
    *,
    profile: IntegrationProfile,
    kind: str,
    dry_run: bool = False,
    trigger: str = JobTrigger.MANUAL,
) -> Job:
    """Create a pending job, or resume the profile's job whose worker died.

    Raises SectionNotActive when the profile's section for `kind` is not active, as in Alma,
    and JobAlreadyRunning when a live job of the profile exists (the database's partial unique
    constraint makes this hold across processes and machines).
    """
    mode = mode_of(kind)
    if not mode.is_active(profile):
        raise SectionNotActive(
            f"The {mode.label} section of profile {profile.code} is not active; "
            f"activate it to run {mode.label} jobs"
        )
    active = Job.objects.filter(profile=profile, status__in=ACTIVE_STATUSES).first()
    if active is not None:
        resumable = active.status == JobStatus.RUNNING and job_is_stale(active)
        if resumable and active.kind == kind and active.dry_run == dry_run:
            return active  # its runner takes it over and logs the resumption
        raise JobAlreadyRunning(
            f"{active.title} (Process ID {active.process_id}) is {active.status}; "
            "this run is skipped"
        )
    parameters = mode.parameters(profile, dry_run=dry_run)
    try:
        with transaction.atomic():
            return Job.objects.create(
                institution=profile.institution,
                profile=profile,
                kind=kind,
                dry_run=dry_run,
                trigger=trigger,
                process_id=_process_id(),
                parameters=parameters,
            )
    except IntegrityError:
        raise JobAlreadyRunning(f"A job of profile {profile.code} is already running") from None


def profile_run(
    *,
    profile: IntegrationProfile,
    kind: str,
    dry_run: bool = False,
    trigger: str = JobTrigger.MANUAL,
    progress: Progress | None = None,
) -> Job:
    """Create (or resume) a job of `profile` and run it in this process, to its end.

    The CLI's `run` (and the quick start): the job runs where it was asked for. Raises
    SectionNotActive and JobAlreadyRunning like `job_create`.
    """
    job = job_create(profile=profile, kind=kind, dry_run=dry_run, trigger=trigger)
    return job_run(job=job, progress=progress)


# The mass-change guard (not built yet) will hold a job whose changes exceed its thresholds and
# give it this status until someone approves it.
JOB_STATUS_HELD = "held"


def job_start(
    *, profile: IntegrationProfile, kind: str, dry_run: bool = False, trigger: str = JobTrigger.API
) -> Job:
    """Create a job of `profile` for a worker to run, and return it pending (for the API).

    The web process never runs a job: `patronsync worker --once` takes the pending jobs (the
    scheduler will, once there is one). A job whose worker died is returned as it is: the next
    worker resumes it. Raises SectionNotActive and JobAlreadyRunning like `job_create`.
    """
    return job_create(profile=profile, kind=kind, dry_run=dry_run, trigger=trigger)


def job_cancel(*, job: Job, actor: str) -> Job:
    """Cancel a job. A pending job ends `cancelled` at once; a running one is asked to stop and
    ends `cancelled` after the batch it is committing, its file not marked handled (a later run
    takes the file again, and users already loaded come out unchanged).

    Both are conditional updates, so a job that finishes at the same moment is not touched.
    """
    cancelled = Job.objects.filter(pk=job.pk, status=JobStatus.PENDING).update(
        status=JobStatus.CANCELLED,
        finished_at=timezone.now(),
        log=log_appended(log_line(f"Cancelled by {actor}")),
    )
    if not cancelled:
        cancelled = Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
            cancel_requested_by=actor,
            log=log_appended(log_line(f"Cancel requested by {actor}")),
        )
    job.refresh_from_db()
    if not cancelled:
        raise JobNotCancellable(
            f"job is {job.status}; only a pending or running job can be cancelled"
        )
    logger.info("job %s: cancel by %s", job.id, actor)
    return job


def job_approve(*, job: Job, actor: str) -> Job:
    """Approve a job held by the mass-change guard, which returns it to pending.

    The future hook of the guard: no job is held today, so every call raises JobNotHeld.
    """
    approved = Job.objects.filter(pk=job.pk, status=JOB_STATUS_HELD).update(
        status=JobStatus.PENDING, log=log_appended(log_line(f"Approved by {actor}"))
    )
    job.refresh_from_db()
    if not approved:
        raise JobNotHeld("job is not held")
    logger.info("job %s: approved by %s", job.id, actor)
    return job
