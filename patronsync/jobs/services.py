"""Creating and running jobs: fetch the profile's new files, load them batch by batch, report.

A job commits after every batch together with its checkpoint (file and position, and the users
the feed touched), so a job killed at any moment and run again ends in the same state as one that
never stopped. A file is marked handled (renamed to NAME.handled) only after all its users are
committed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import tempfile
import time
import traceback
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from patronsync.connections.transports import transport_for
from patronsync.core.bulk import insert_rows
from patronsync.core.exceptions import ConfigurationError, PatronsyncError
from patronsync.core.selectors import code_tables_for_institution
from patronsync.loader.batch import Outcome
from patronsync.loader.context import RunContext
from patronsync.loader.pipeline import JobCancelled, Progress, load_file
from patronsync.loader.state import TouchedUsers
from patronsync.patrons.swap import SwapContext
from patronsync.profiles.models import IntegrationProfile

from .choices import ACTIVE_STATUSES, FileStatus, JobKind, JobStatus, JobTrigger, RecordOutcome
from .models import Job, JobRecord, ReceivedFile

logger = logging.getLogger(__name__)

MAX_ZIPS_PER_RUN = 20  # Alma's limit
STALE_AFTER = timedelta(minutes=10)


class SectionNotActive(PatronsyncError):
    """The profile's Import or Synchronize section is not active: its jobs do not run."""


class JobAlreadyRunning(PatronsyncError):
    """Another job of the same profile is pending or running."""


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _process_id() -> str:
    """A numeric Process ID as Alma shows it (milliseconds since the epoch, then a counter)."""
    base = int(time.time() * 1000)
    while True:
        candidate = f"{base}{os.getpid() % 1000:03d}"
        if not Job.objects.filter(process_id=candidate).exists():
            return candidate
        base += 1


def _is_stale(job: Job) -> bool:
    """True when the job's worker is gone: a dead process on this host, or no heartbeat.

    A job recorded under this very process is stale too: a process runs one job at a time, so
    if it is asking, the job it recorded was interrupted (e.g. a worker that survived a crash).
    """
    host, _, pid = job.worker.partition(":")
    if host == socket.gethostname() and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return int(pid) == os.getpid()
    return job.heartbeat_at is None or timezone.now() - job.heartbeat_at > STALE_AFTER


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
    importing = kind == JobKind.IMPORT
    if not (profile.import_active if importing else profile.sync_active):
        label = "Import" if importing else "Synchronize"
        raise SectionNotActive(
            f"The {label} section of profile {profile.code} is not active; "
            f"activate it to run {label} jobs"
        )
    active = Job.objects.filter(profile=profile, status__in=ACTIVE_STATUSES).first()
    if active is not None:
        if active.kind == kind and active.dry_run == dry_run and _is_stale(active):
            active.log += f"{timezone.now():%Y-%m-%d %H:%M:%S} resumed after interruption\n"
            return active
        raise JobAlreadyRunning(
            f"{active.title} (Process ID {active.process_id}) is {active.status}; "
            "this run is skipped"
        )
    section = "import" if kind == JobKind.IMPORT else "sync"
    parameters = {
        "profile": profile.code,
        "kind": kind,
        "dry_run": dry_run,
        "connection": profile.connection.name,
        "input_path": getattr(profile, f"{section}_input_path"),
        "record_type": getattr(profile, f"{section}_record_type"),
    }
    if kind == JobKind.SYNCHRONIZE:
        parameters.update(
            match_id_type=profile.sync_match_id_type,
            synchronization_type=profile.sync_type,
            unmatched=profile.sync_unmatched,
        )
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


# Which job counter each outcome adds to; a dry run counts what it would do.
COUNTER_OF_OUTCOME: dict[str, str] = {
    RecordOutcome.CREATED: "created",
    RecordOutcome.WOULD_CREATE: "created",
    RecordOutcome.UPDATED: "updated",
    RecordOutcome.WOULD_UPDATE: "updated",
    RecordOutcome.UNCHANGED: "unchanged",
    RecordOutcome.REJECTED: "rejected",
}
RECORD_COLUMNS = (
    "job_id", "file", "entry", "line", "position", "match_value", "primary_id", "patron_id",
    "outcome", "reason_code", "reason", "changes",
)  # fmt: skip


class JobSink:
    """The engine's `BatchSink` for one job: its records, counters, checkpoint and heartbeat."""

    def __init__(self, job: Job) -> None:
        self.job = job

    def record_batch(self, *, outcomes: Sequence[Outcome], checkpoint: dict[str, Any]) -> None:
        job = self.job
        insert_rows(
            JobRecord,
            RECORD_COLUMNS,
            [
                (job.id, o.raw.position.file, o.raw.position.entry or "", o.raw.position.line,
                 o.raw.position.ordinal, o.match_value[:255], o.primary_id[:255],
                 o.patron.id if o.patron is not None else None, str(o.outcome), o.reason_code,
                 o.reason, o.changes)
                for o in outcomes
                if o.outcome != RecordOutcome.UNCHANGED
            ],
        )  # fmt: skip
        job.total_records_processed += len(outcomes)
        for o in outcomes:
            counter = COUNTER_OF_OUTCOME[o.outcome]
            setattr(job, counter, getattr(job, counter) + 1)
        job.heartbeat_at = timezone.now()
        job.checkpoint = checkpoint
        job.save(
            update_fields=[
                "total_records_processed",
                "created",
                "updated",
                "unchanged",
                "rejected",
                "checkpoint",
                "heartbeat_at",
            ]
        )

    def stop_requested(self) -> str:
        return str(
            Job.objects.filter(pk=self.job.pk).values_list("cancel_requested_by", flat=True)[0]
        )


def _context(job: Job) -> RunContext:
    profile = job.profile
    importing = job.kind == JobKind.IMPORT
    record_type = profile.import_record_type if importing else profile.sync_record_type
    return RunContext(
        job_id=job.id,
        job_title=job.title,
        profile_code=profile.code,
        sink=JobSink(job),
        institution=job.institution,
        kind=job.kind,
        dry_run=job.dry_run,
        codes=code_tables_for_institution(institution=job.institution),
        match_type=profile.sync_match_id_type,
        unmatched=profile.sync_unmatched,
        record_type=record_type,
        swap=SwapContext(profile_code=profile.code, record_type=record_type),
        touched=TouchedUsers.load(job.checkpoint.get("touched", "")),
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _log(job: Job, message: str) -> None:
    logger.info("job %s: %s", job.id, message)
    job.log += f"{timezone.now():%Y-%m-%d %H:%M:%S} {message}\n"


def _run_files(ctx: RunContext, progress: Progress | None) -> bool:
    """Load every new file of the profile's input folder; returns True if a file had problems."""
    job = ctx.sink.job  # type: ignore[attr-defined]  # the runner's, until it owns this loop
    profile = job.profile
    transport = transport_for(profile.connection)
    folder = profile.import_input_path if ctx.kind == JobKind.IMPORT else profile.sync_input_path
    files = transport.list(folder)
    had_problems = False
    if len(files) > MAX_ZIPS_PER_RUN:
        skipped = ", ".join(f.name for f in files[MAX_ZIPS_PER_RUN:])
        _log(job, f"More than {MAX_ZIPS_PER_RUN} zip files; left for the next run: {skipped}")
        files, had_problems = files[:MAX_ZIPS_PER_RUN], True
    if not files:
        _log(job, f"No new zip files in {folder or '(home folder)'}")
    limit = profile.connection.max_file_bytes
    with tempfile.TemporaryDirectory(prefix="patronsync-") as workdir:
        for remote in files:
            entry: dict[str, Any] = {"name": remote.name, "size": remote.size, "problems": []}
            if remote.size > limit:
                message = (
                    f"{remote.name}: {remote.size:,} bytes, over the connection's limit "
                    f"of {limit:,}; not taken"
                )
                entry["problems"].append({"code": "FILE_TOO_LARGE", "message": message})
                job.files = [*job.files, entry]
                had_problems = True
                continue
            path = transport.fetch(folder, remote.name, Path(workdir))
            sha256 = _sha256(path)
            entry["sha256"] = sha256
            received = None
            skip = 0
            if not ctx.dry_run:
                received, _ = ReceivedFile.objects.get_or_create(
                    profile=profile,
                    sha256=sha256,
                    defaults={
                        "institution": ctx.institution,
                        "job": job,
                        "name": remote.name,
                        "size": remote.size,
                        "status": FileStatus.PROCESSING,
                    },
                )
                if received.status != FileStatus.PROCESSING:
                    _log(
                        job,
                        f"{remote.name}: already processed (same content as {received.name} "
                        f"in job {received.job_id}); skipped",
                    )
                    transport.mark_handled(folder, remote.name)
                    continue
                if received.job_id != job.id:  # left half-done by a job that errored
                    received.job = job
                    received.save(update_fields=["job"])
                if job.checkpoint.get("file") == sha256:
                    skip = int(job.checkpoint.get("position", 0))
                    _log(job, f"{remote.name}: resuming after user {skip}")
            if not skip:
                # Duplicates are judged within one file ("in this feed"): a later zip of the
                # same run may update the users an earlier one touched.
                ctx.touched = TouchedUsers()
            users, problems = load_file(ctx, path, remote.name, sha256, skip, progress)
            entry.update(users=users, problems=problems)
            job.files = [*(f for f in job.files if f.get("sha256") != sha256), entry]
            had_problems = had_problems or bool(problems)
            _log(job, f"{remote.name}: {users} users read, {len(problems)} file problems")
            if received is not None:
                received.status = (
                    FileStatus.FAILED if problems and not users else FileStatus.HANDLED
                )
                received.users, received.handled_at = users, timezone.now()
                with transaction.atomic():
                    received.save()
                    job.save(update_fields=["files", "log"])
                transport.mark_handled(folder, remote.name)
    return had_problems


def job_run(*, job: Job, progress: Progress | None = None) -> Job:
    """Run (or resume) a job to its end and return it with its final status."""
    job.start(worker=_worker_name())
    job.save()
    ctx = _context(job)
    _log(job, f"{job.title} started ({'dry run' if job.dry_run else 'live'})")
    try:
        had_problems = _run_files(ctx, progress)
    except JobCancelled as exc:
        _log(job, str(exc))
        job.finish(JobStatus.CANCELLED)
    except (ConfigurationError, PatronsyncError) as exc:
        _log(job, f"Failed: {exc}")
        job.finish(JobStatus.FAILED)
    except Exception:
        _log(job, "Errored:\n" + traceback.format_exc())
        job.finish(JobStatus.ERRORED)
    else:
        clean = not had_problems and job.rejected == 0
        job.finish(JobStatus.COMPLETED if clean else JobStatus.COMPLETED_WITH_ERRORS)
        _log(job, f"Finished: {job.get_status_display()}")
    job.save()
    return job


def profile_run(
    *,
    profile: IntegrationProfile,
    kind: str,
    dry_run: bool = False,
    trigger: str = JobTrigger.MANUAL,
    progress: Progress | None = None,
) -> Job:
    """Create (or resume) and run a job of `profile`: the one call behind CLI, UI and API."""
    job = job_create(profile=profile, kind=kind, dry_run=dry_run, trigger=trigger)
    return job_run(job=job, progress=progress)


class JobNotCancellable(PatronsyncError):
    """The job cannot be cancelled in its current status."""


class JobNotHeld(PatronsyncError):
    """Only a job held by the mass-change guard can be approved."""


# The mass-change guard (not built yet) will hold a job whose changes exceed its thresholds and
# give it this status until someone approves it.
JOB_STATUS_HELD = "held"


def job_start(
    *, profile: IntegrationProfile, kind: str, dry_run: bool = False, trigger: str = JobTrigger.API
) -> Job:
    """Start a job of `profile` for the API: today it runs synchronously and returns it finished.

    The one place to swap for an enqueue (create the job, run it on a worker) once jobs run in
    the background. Raises JobAlreadyRunning like `profile_run`.
    """
    return profile_run(profile=profile, kind=kind, dry_run=dry_run, trigger=trigger)


def _append_log(message: str) -> Any:
    from django.db.models import F, Value
    from django.db.models.functions import Concat

    return Concat(F("log"), Value(f"{timezone.now():%Y-%m-%d %H:%M:%S} {message}\n"))


def job_cancel(*, job: Job, actor: str) -> Job:
    """Cancel a job. A pending job ends `cancelled` at once; a running one is asked to stop and
    ends `cancelled` after the batch it is committing, its file not marked handled (a later run
    takes the file again, and users already loaded come out unchanged).

    Both are conditional updates, so a job that finishes at the same moment is not touched.
    """
    cancelled = Job.objects.filter(pk=job.pk, status=JobStatus.PENDING).update(
        status=JobStatus.CANCELLED,
        finished_at=timezone.now(),
        log=_append_log(f"Cancelled by {actor}"),
    )
    if not cancelled:
        cancelled = Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
            cancel_requested_by=actor, log=_append_log(f"Cancel requested by {actor}")
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
        status=JobStatus.PENDING, log=_append_log(f"Approved by {actor}")
    )
    job.refresh_from_db()
    if not approved:
        raise JobNotHeld("job is not held")
    logger.info("job %s: approved by %s", job.id, actor)
    return job
