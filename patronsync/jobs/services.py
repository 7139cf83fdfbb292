"""Creating and running jobs: fetch the profile's new files, load them batch by batch, report.

A job commits after every batch together with its checkpoint (file and position, and the users
the feed touched), so a job killed at any moment and run again ends in the same state as one that
never stopped. A file is marked handled (renamed to NAME.handled) only after all its users are
committed.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import socket
import tempfile
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from itertools import islice
from pathlib import Path
from queue import Empty
from typing import Any

from django.db import IntegrityError, reset_queries, transaction
from django.utils import timezone

from patronsync.almaxml import Limits, RawUser, iter_raw_users
from patronsync.connections.transports import transport_for
from patronsync.core.exceptions import ConfigurationError, PatronsyncError
from patronsync.core.selectors import code_tables_for_institution
from patronsync.loader.batch import BatchProcessor, parse_records
from patronsync.loader.context import RunContext
from patronsync.loader.state import TouchedUsers
from patronsync.loader.writer import write_batch
from patronsync.patrons.swap import SwapContext
from patronsync.profiles.models import IntegrationProfile

from .choices import ACTIVE_STATUSES, FileStatus, JobKind, JobStatus, JobTrigger
from .models import Job, ReceivedFile

logger = logging.getLogger(__name__)

BATCH_SIZE = int(os.environ.get("PATRONSYNC_BATCH_SIZE", "2000"))
MAX_ZIPS_PER_RUN = 20  # Alma's limit
ZIP_LIMITS = Limits(max_xml_entries=50, max_total_bytes=4 * 1024**3)  # Alma's limits
STALE_AFTER = timedelta(minutes=10)
# Processes that parse ahead during an Import (0: parse in-line).
PARSE_WORKERS = int(os.environ.get("PATRONSYNC_PARSE_WORKERS", "1"))
# Whether a Synchronize reads its files in a second process.
READ_AHEAD = os.environ.get("PATRONSYNC_READ_AHEAD", "true").lower() not in {"0", "false", "no"}

Progress = Callable[[int], None]


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
    """True when the job's worker is gone: a dead process on this host, or no heartbeat."""
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

    Raises JobAlreadyRunning when a live job of the profile exists (the database's partial unique
    constraint makes this hold across processes and machines).
    """
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


def _context(job: Job) -> RunContext:
    profile = job.profile
    importing = job.kind == JobKind.IMPORT
    record_type = profile.import_record_type if importing else profile.sync_record_type
    return RunContext(
        job=job,
        profile=profile,
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


def _batches(items: Iterator[RawUser], size: int) -> Iterator[list[RawUser]]:
    while batch := list(islice(items, size)):
        yield batch


def _log(job: Job, message: str) -> None:
    logger.info("job %s: %s", job.id, message)
    job.log += f"{timezone.now():%Y-%m-%d %H:%M:%S} {message}\n"


@contextmanager
def _parse_ahead(ctx: RunContext) -> Iterator[Any]:
    """A worker process that parses batches while this one writes, or None.

    An Import parses every record, so parsing on the second core halves its time; a Synchronize
    parses only the few users whose bytes changed, so it parses in-line. The worker is forked:
    it inherits the loaded code and settings, and never touches the database.
    """
    if ctx.kind != JobKind.IMPORT or PARSE_WORKERS < 1:
        yield None
        return
    pool = multiprocessing.get_context("fork").Pool(PARSE_WORKERS)
    try:
        yield pool
    finally:
        pool.terminate()
        pool.join()


def _read_file(path: Path, name: str, skip: int) -> Iterator[tuple[str, Any]]:
    """A file's users in batches ("batch", [RawUser...]), then ("end", file-level problems)."""
    reader = iter_raw_users(path, name=name, limits=ZIP_LIMITS)
    users = iter(reader)
    for _ in islice(users, skip):
        pass
    for batch in _batches(users, BATCH_SIZE):
        yield ("batch", batch)
    yield ("end", reader.problems)


def _read_ahead_worker(path: Path, name: str, skip: int, queue: Any) -> None:
    """The read-ahead process: read, hash and extract match values; never touch the database."""
    try:
        for item in _read_file(path, name, skip):
            queue.put(item)
    except BaseException:
        queue.put(("error", traceback.format_exc()))


def _batches_of_file(
    ctx: RunContext, path: Path, name: str, skip: int
) -> Iterator[tuple[str, Any]]:
    """The file's batches, then ("end", problems).

    A Synchronize reads and hashes in a second process while this one matches and writes (the
    reader is most of a daily sync's work); an Import keeps reading here, since its second core
    is busy parsing.
    """
    if ctx.kind == JobKind.IMPORT or not READ_AHEAD:
        yield from _read_file(path, name, skip)
        return
    mp = multiprocessing.get_context("fork")
    queue = mp.Queue(maxsize=4)
    process = mp.Process(target=_read_ahead_worker, args=(path, name, skip, queue), daemon=True)
    process.start()
    try:
        while True:
            try:
                item = queue.get(timeout=5)
            except Empty:
                if not process.is_alive():
                    raise RuntimeError(f"{name}: the reading process stopped") from None
                continue
            if item[0] == "error":
                raise RuntimeError(f"{name}: reading failed:\n{item[1]}")
            yield item
            if item[0] == "end":
                return
    finally:
        process.kill()
        process.join()


def _load_file(
    ctx: RunContext, path: Path, name: str, sha256: str, skip: int, progress: Progress | None
) -> tuple[int, list[dict[str, Any]]]:
    """Stream one file's users through the batches; returns (users read, file problems)."""
    position = skip

    def commit(batch: list[RawUser], parsed: Any) -> None:
        nonlocal position
        processor = BatchProcessor(ctx, batch, parsed.get() if parsed is not None else None)
        processor.run()
        position += len(batch)
        ctx.job.heartbeat_at = timezone.now()
        write_batch(ctx, processor, {"file": sha256, "position": position})
        # With DEBUG on, Django keeps every query's text (thousands of lookup values per batch):
        # forget them, as it does after each web request, so memory stays flat.
        reset_queries()
        if progress:
            progress(len(batch))

    file_problems: list[Any] = []
    with _parse_ahead(ctx) as pool:
        # Batches in flight, oldest first: each worker parses one while this process commits.
        pending: deque[tuple[list[RawUser], Any]] = deque()
        for kind, payload in _batches_of_file(ctx, path, name, skip):
            if kind == "end":
                file_problems = payload
                break
            parsed = pool.apply_async(parse_records, (payload, ctx.codes)) if pool else None
            pending.append((payload, parsed))
            if len(pending) > PARSE_WORKERS or pool is None:
                commit(*pending.popleft())
        while pending:
            commit(*pending.popleft())
    problems = [
        {"code": p.code, "message": str(p), "line": p.line, "entry": p.entry} for p in file_problems
    ]
    return position, problems


def _run_files(ctx: RunContext, progress: Progress | None) -> bool:
    """Load every new file of the profile's input folder; returns True if a file had problems."""
    job, profile = ctx.job, ctx.profile
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
            users, problems = _load_file(ctx, path, remote.name, sha256, skip, progress)
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
    """Cancel a pending job: it ends `failed` with a log line naming who cancelled it.

    The update is conditional on the job still being pending, so a worker that takes the job at
    the same moment wins and the cancel is refused. A running job cannot be cancelled yet (the
    runner has no cancel flag to check); a finished job has nothing to cancel.
    """
    cancelled = Job.objects.filter(pk=job.pk, status=JobStatus.PENDING).update(
        status=JobStatus.FAILED,
        finished_at=timezone.now(),
        log=_append_log(f"Cancelled by {actor}"),
    )
    job.refresh_from_db()
    if not cancelled:
        if job.status == JobStatus.RUNNING:
            raise JobNotCancellable("job is running; only a pending job can be cancelled")
        raise JobNotCancellable(f"job is {job.status}; only a pending job can be cancelled")
    logger.info("job %s: cancelled by %s", job.id, actor)
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
