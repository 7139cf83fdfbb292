"""Creating, starting, cancelling and approving jobs; running them is the runner's.

`job_create` writes the pending job with the settings it will run with (`job.parameters`).
`profile_run` then runs it in this process (the CLI's `run`); `job_start`, for the API, only
creates it: the web process never runs a job, a worker does (`patronsync worker --once`). While a
job runs, `jobs.runner` is the only writer of its row; `job_cancel` only asks it to stop, with
conditional updates that append to its log, unless no worker holds the job any more (its lease
ran out): then the cancel ends it.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC, datetime
from functools import partial

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from patronsync.core.exceptions import PatronsyncError
from patronsync.loader.pipeline import Progress
from patronsync.profiles.models import IntegrationProfile

from .choices import ACTIVE_STATUSES, GuardDecision, JobStatus, JobTrigger
from .exceptions import (
    JobAlreadyRunning,
    JobHeld,
    JobNotCancellable,
    JobNotHeld,
    JobNotRerunnable,
    PlanNoLongerApplies,
    SectionNotActive,
)
from .hooks import job_end_hooks_run
from .models import Job
from .modes import mode_of
from .rerun import job_rerunnable
from .runner import job_cancel_abandoned, job_run, log_appended, log_line, plan_changes

__all__ = [
    "JobAlreadyRunning",
    "JobHeld",
    "JobNotCancellable",
    "JobNotHeld",
    "JobNotRerunnable",
    "PlanNoLongerApplies",
    "SectionNotActive",
    "job_approve",
    "job_cancel",
    "job_create",
    "job_reject",
    "job_rerun",
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
    scheduled_for: datetime | None = None,
    rerun_of: Job | None = None,
) -> Job:
    """Create a pending job, or hand back the profile's running job whose lease ran out (its
    worker died) for the caller's runner to claim and resume.

    `scheduled_for` is the slot a schedule fires the job for (`jobs.scheduler`): one job per
    profile, kind and slot, so a second scheduler firing the same slot gets JobAlreadyRunning
    too. A scheduled job never takes over another job: the next worker resumes that one.
    `rerun_of` makes the job a "Run again" of that job (`jobs.rerun`): it loads the users that
    job rejected instead of taking files from the server.

    Raises SectionNotActive when the profile's section for `kind` is not active, as in Alma,
    and JobAlreadyRunning when a job of the profile is pending (it waits for its worker: it is
    never handed to a second caller) or held by a worker whose lease has not run out (the
    database's partial unique constraint makes this hold across processes and machines). Two
    callers handed the same expired job both try to claim it: one conditional update wins.
    While a job of the profile is held by the mass-change guard, every later run of it
    (a dry run too) raises JobHeld, naming that job, until it is approved or rejected.
    """
    mode = mode_of(kind)
    if not mode.is_active(profile):
        raise SectionNotActive(
            f"The {mode.label} section of profile {profile.code} is not active; "
            f"activate it to run {mode.label} jobs"
        )
    held = Job.objects.filter(profile=profile, status=JobStatus.HELD).first()
    if held is not None:
        raise JobHeld(_held(held))
    active = Job.objects.filter(profile=profile, status__in=ACTIVE_STATUSES).first()
    if active is not None:
        resumable = (
            active.kind == kind
            and active.dry_run == dry_run
            and scheduled_for is None
            and active.rerun_of_id == (rerun_of.pk if rerun_of is not None else None)
        )
        if resumable and active.lease_expired:
            return active  # its runner takes it over and logs the resumption
        raise JobAlreadyRunning(_busy(active))
    parameters = mode.parameters(profile, dry_run=dry_run)
    parameters["guard"] = dict(profile.sync_guard or {})  # the mass-change guard's settings
    if rerun_of is not None:
        parameters["rerun_of"] = rerun_of.process_id  # the report says which job it runs again
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
                scheduled_for=scheduled_for,
                rerun_of=rerun_of,
            )
    except IntegrityError:
        held = Job.objects.filter(profile=profile, status=JobStatus.HELD).first()
        if held is not None:
            raise JobHeld(_held(held)) from None
        raise JobAlreadyRunning(f"A job of profile {profile.code} is already running") from None


def _held(job: Job) -> str:
    """Why a run is skipped while the profile's job `job` is held for approval."""
    return (
        f"{job.title} (job {job.pk}, Process ID {job.process_id}) is held for approval by the "
        f"mass-change guard; runs of profile {job.profile.code} are skipped until it is "
        f"approved (patronsync job approve {job.pk}) or rejected (patronsync job reject "
        f"{job.pk})"
    )


def _busy(job: Job) -> str:
    """Why a run is skipped: the profile's job, and when a worker that died lets it go."""
    what = f"{job.title} (Process ID {job.process_id}) is {job.status}"
    if job.status == JobStatus.PENDING:
        return f"{what}, waiting for a worker; this run is skipped"
    if job.lease_until is not None and not job.lease_expired:
        until = job.lease_until.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        return (
            f"{what}; its worker holds it until {until} UTC (if that worker died, the next run "
            "after that resumes it); this run is skipped"
        )
    return f"{what}; this run is skipped"


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


# The mass-change guard holds a job whose plan crosses a threshold with this status until
# someone approves or rejects it (`profiles.guard`, `jobs.runner`).
JOB_STATUS_HELD = JobStatus.HELD


def job_start(
    *,
    profile: IntegrationProfile,
    kind: str,
    dry_run: bool = False,
    trigger: str = JobTrigger.API,
    rerun_of: Job | None = None,
) -> Job:
    """Create a job of `profile` for a worker to run, and return it pending (for the API).

    The web process never runs a job. The embedded worker (`patronsync worker`) takes the
    pending jobs at its next pass; with a broker (PATRONSYNC_BROKER_URL) the job's id is sent
    to the Celery workers once the job is committed, and a worker claims it (docs/workers.md).
    A job whose worker died is returned as it is (and sent again): the next worker resumes it.
    Raises SectionNotActive and JobAlreadyRunning like `job_create`.
    """
    job = job_create(
        profile=profile, kind=kind, dry_run=dry_run, trigger=trigger, rerun_of=rerun_of
    )
    if settings.PATRONSYNC_BROKER_URL:
        # Here, not at the top: the worker module fires schedules, which create jobs here.
        from .worker import job_send

        transaction.on_commit(partial(job_send, job_id=job.id), robust=True)
    return job


def job_cancel(*, job: Job, actor: str) -> Job:
    """Cancel a job, whether its worker is alive or dead.

    A pending job ends `cancelled` at once, and so does a running job whose lease ran out (no
    worker holds it: its process died, or stopped renewing; its half-done files are marked
    cancelled). A running job whose worker holds it is asked to stop and ends `cancelled` after
    the batch it is committing, its file not marked handled (a later run takes the file again,
    and users already loaded come out unchanged); should that worker die before, the job is
    cancelled as soon as another worker claims it, or by the next cancel once its lease ran out.

    Each is a conditional update, so a job that finishes, or is claimed, at the same moment is
    not written over.
    """
    cancelled = Job.objects.filter(pk=job.pk, status=JobStatus.PENDING).update(
        status=JobStatus.CANCELLED,
        finished_at=timezone.now(),
        log=log_appended(log_line(f"Cancelled by {actor}")),
    )
    if not cancelled:
        cancelled = job_cancel_abandoned(job=job, actor=actor)
    ended = bool(cancelled)  # by this call: no runner is there to tell who listens
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
    if ended:
        job_end_hooks_run(job=job)
    return job


def _plan_problems(job: Job) -> list[str]:
    """Why `job`'s held plan no longer applies, in words: a job of its profile that ran since,
    its files gone from the folder or changed; [] when it still applies."""
    from patronsync.connections.models import Connection
    from patronsync.connections.transports import TransportError, transport_for

    problems = []
    newer = (
        Job.objects.filter(profile_id=job.profile_id, dry_run=False, created_at__gt=job.created_at)
        .exclude(status__in=(JobStatus.CANCELLED, JobStatus.FAILED, JobStatus.HELD))
        .order_by("created_at")
        .first()
    )
    if newer is not None:
        problems.append(
            f"job {newer.pk} (Process ID {newer.process_id}) of the profile ran after it was "
            "planned"
        )
    plan = (job.guard or {}).get("plan") or {}
    if job.parameters.get("rerun_of") or not plan.get("files"):
        return problems
    name = job.parameters.get("connection")
    connection = Connection.objects.filter(institution=job.institution, name=name).first()
    if connection is None:
        return [*problems, f"connection {name}, which it reads, no longer exists"]
    folder = str(job.parameters.get("input_path", ""))
    try:
        with transport_for(connection) as transport:
            listed = {remote.name: remote.size for remote in transport.list(folder)}
    except (TransportError, PatronsyncError) as exc:
        return [*problems, f"its folder could not be listed: {exc}"]
    return [*problems, *plan_changes(plan, listed, folder)]


def job_approve(*, job: Job, actor: str) -> Job:
    """Approve a job held by the mass-change guard: it goes back to pending, its plan marked
    approved (`Job.guard["approved"]`), and the worker that takes it applies that plan without
    checking the thresholds again (`jobs.runner`). Records who approved it and when.

    Raises JobNotHeld when the job is not held, and PlanNoLongerApplies, saying what changed,
    when its plan no longer applies (its files are gone or changed, a newer job ran).
    """
    if job.status != JobStatus.HELD:
        raise JobNotHeld(f"job {job.pk} is {job.status}; only a held job can be approved")
    problems = _plan_problems(job)
    if problems:
        raise PlanNoLongerApplies(
            f"The plan of job {job.pk} no longer applies: {'; '.join(problems)}. Reject it, "
            "and run the profile again"
        )
    now = timezone.now()
    with transaction.atomic():
        approved = Job.objects.filter(pk=job.pk, status=JobStatus.HELD).update(
            status=JobStatus.PENDING,
            finished_at=None,
            decision=GuardDecision.APPROVED,
            decided_by=actor,
            decided_at=now,
            guard={**(job.guard or {}), "approved": True},
            log=log_appended(log_line(f"Approved by {actor}: the plan is applied by a worker")),
        )
        if approved and settings.PATRONSYNC_BROKER_URL:
            from .worker import job_send

            transaction.on_commit(partial(job_send, job_id=job.pk), robust=True)
    job.refresh_from_db()
    if not approved:
        raise JobNotHeld(f"job {job.pk} is {job.status}; only a held job can be approved")
    logger.info("job %s: approved by %s", job.id, actor)
    return job


def job_reject(*, job: Job, actor: str) -> Job:
    """Reject a job held by the mass-change guard: it ends cancelled with nothing applied, its
    plan kept in its report. Records who rejected it and when; later runs of the profile go
    ahead again. Raises JobNotHeld when the job is not held."""
    now = timezone.now()
    rejected = Job.objects.filter(pk=job.pk, status=JobStatus.HELD).update(
        status=JobStatus.CANCELLED,
        decision=GuardDecision.REJECTED,
        decided_by=actor,
        decided_at=now,
        log=log_appended(log_line(f"Rejected by {actor}: nothing was applied")),
    )
    job.refresh_from_db()
    if not rejected:
        raise JobNotHeld(f"job {job.pk} is {job.status}; only a held job can be rejected")
    logger.info("job %s: rejected by %s", job.id, actor)
    return job


def job_rerun(*, job: Job, trigger: str = JobTrigger.MANUAL) -> Job:
    """Run again: start a job of `job`'s profile and kind (and dry run, if it was one) that
    loads exactly the users `job` rejected, from the XML kept on their records (`jobs.rerun`),
    with the profile's settings as they are now. It is linked to `job` (`rerun_of`), and is
    left pending for a worker, as `job_start` leaves any job.

    Raises JobNotRerunnable when `job` has not ended or none of its rejected users kept its
    XML, and SectionNotActive or JobAlreadyRunning like `job_create`.
    """
    if job.status in ACTIVE_STATUSES:
        raise JobNotRerunnable(f"job {job.process_id} is {job.status}; run it again once it ends")
    if not job_rerunnable(job=job):
        raise JobNotRerunnable(f"job {job.process_id} has no rejected users to load again")
    rerun = job_start(
        profile=job.profile, kind=job.kind, dry_run=job.dry_run, trigger=trigger, rerun_of=job
    )
    logger.info("job %s: runs again the rejected users of job %s", rerun.id, job.id)
    return rerun
