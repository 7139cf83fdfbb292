"""The job runner: claims a job, runs it to its end, and is the only writer of its `Job` row.

In the manner of NetBox's `JobRunner`: the `Job` row is the source of truth, a worker (the
CLI's `run`, or `patronsync worker`) only carries its id. The runner

- claims the job with one conditional update that names its worker and gives it a lease
  (`jobs.leases`), so two workers never run the same job; a running job is taken over only
  once its lease has run out, whatever is known of the process that held it;
- writes only the fields it owns (status, times, worker, heartbeat, lease, counters,
  checkpoint, files, log), each with an update of those fields, never a save of the whole row:
  a cancel request and the log lines `job_cancel` appends while the job runs are kept;
- makes each of those writes on the condition that the job is still running and still its
  own, and renews the lease with it: a worker whose lease ran out and whose job was taken over
  (or cancelled) stops at its next write, in the transaction of that write, so no batch is
  ever committed by two workers;
- logs through Python logging: a handler appends each line of the run to the job's log in the
  database (log = log || line), and the lines reach the rest of logging with the job id;
- runs with the settings stored in `job.parameters` when the job was created, so a resumed job
  runs as its report says, whatever the profile says by then;
- takes every `*.zip` file of the folder not marked handled, as Alma does, and records each
  taking in the `ReceivedFile` ledger, naming the earlier taking of the same bytes if any.

It is also the engine's `BatchSink`: the engine hands it each decided batch inside the
transaction that writes the batch's users.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import secrets
import socket
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.db import DatabaseError, connection, connections, transaction
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.utils import timezone

from patronsync.almaxml.count import users_count
from patronsync.connections.models import Connection
from patronsync.connections.transports import RemoteFile, Transport, TransportError, transport_for
from patronsync.core.bulk import insert_rows
from patronsync.core.crypto import encrypt_bytes
from patronsync.core.exceptions import ConfigurationError, PatronsyncError
from patronsync.core.selectors import code_tables_for_institution
from patronsync.core.text import LOG_LINE_CHARS, bounded
from patronsync.loader import pipeline
from patronsync.loader.context import RunContext
from patronsync.loader.pipeline import (
    JobCancelled,
    Progress,
    known_hashes,
    load_file,
    load_planned,
)
from patronsync.loader.state import KeptUsers, KnownHashes, TouchedUsers
from patronsync.patrons.models import Patron
from patronsync.patrons.swap import SwapContext
from patronsync.profiles.guard import GuardSettingError, PlanCounts, guard_check, guard_settings

from .choices import ACTIVE_STATUSES, FileStatus, JobKind, JobStatus, RecordOutcome
from .exceptions import JobAlreadyRunning, JobTakenOver
from .hooks import job_end_hooks_run
from .leases import (
    WorkerStopping,
    heartbeat_every,
    lease_expired_q,
    lease_from,
    max_attempts,
)
from .leavers import JobLeavers
from .models import Job, JobRecord, ReceivedFile
from .modes import mode_of
from .planned import PlanKeeping, plan_applies_alone, planned_batches
from .purge import purge_run
from .rerun import job_rejected_count_without_xml, rerun_feed_write

if TYPE_CHECKING:
    from patronsync.loader.batch import Outcome

MAX_ZIPS_PER_RUN = 20  # Alma's limit
# A ledger row's `mark_error` from the commit of its file's users until the `.handled` rename
# succeeds: a process that dies in between leaves it, so the next run renames the file and does
# not load it again (`JobRunner._files_left_unmarked`).
RENAME_PENDING = "not yet renamed"
LOG_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"  # UTC, as `job_cancel` writes its lines

# Which job counter each outcome adds to; a dry run counts what it would do.
COUNTER_OF_OUTCOME: dict[str, str] = {
    RecordOutcome.CREATED: "created",
    RecordOutcome.WOULD_CREATE: "created",
    RecordOutcome.UPDATED: "updated",
    RecordOutcome.WOULD_UPDATE: "updated",
    RecordOutcome.UNCHANGED: "unchanged",
    RecordOutcome.REJECTED: "rejected",
    # Leavers (`jobs.leavers`): an expired or deactivated user is an updated one; a reactivated
    # user is counted once, by its feed record (`jobs.leavers` adds no counter for it).
    RecordOutcome.EXPIRED: "updated",
    RecordOutcome.WOULD_EXPIRE: "updated",
    RecordOutcome.DEACTIVATED: "updated",
    RecordOutcome.WOULD_DEACTIVATE: "updated",
}
# What a planned outcome becomes once applied (the guard's two passes compare them).
APPLIED_OF_PLANNED: dict[str, str] = {
    RecordOutcome.WOULD_CREATE: RecordOutcome.CREATED,
    RecordOutcome.WOULD_UPDATE: RecordOutcome.UPDATED,
    RecordOutcome.WOULD_EXPIRE: RecordOutcome.EXPIRED,
    RecordOutcome.WOULD_DEACTIVATE: RecordOutcome.DEACTIVATED,
    RecordOutcome.WOULD_REACTIVATE: RecordOutcome.REACTIVATED,
}
# The kinds the mass-change guard plans first (a purge brings its own plan: `jobs.purge`).
GUARDED_KINDS = (JobKind.IMPORT, JobKind.SYNCHRONIZE)
# How many users that came out otherwise than planned the report names.
RECHECKED_EXAMPLES = 20
RECORD_COLUMNS = (
    "job_id", "file", "entry", "line", "position", "match_value", "primary_id", "patron_id",
    "outcome", "reason_code", "reason", "changes", "raw_xml",
)  # fmt: skip


def _kept_xml(outcome: Outcome, every: bool = False) -> bytes | None:
    """A rejected user's element bytes, kept on its record for "Run again" (`jobs.rerun`),
    encrypted: the feed's element may carry the user's PIN or password in clear. `every`: any
    record's (a plan's, for an apply pass of the plan alone: `jobs.planned`)."""
    if (outcome.outcome != RecordOutcome.REJECTED and not every) or not outcome.raw.raw:
        return None
    return encrypt_bytes(outcome.raw.raw)


def log_appended(line: str) -> Any:
    """An expression that appends `line` to a job's log in the database (log = log || line).

    Appending in the database, never writing back a log read before, is what keeps the lines
    two writers add at the same time.
    """
    return Concat(F("log"), Value(line if line.endswith("\n") else line + "\n"))


def log_line(message: str) -> str:
    """A line of a job's log: UTC time, then the message."""
    return f"{timezone.now():{LOG_DATE_FORMAT}} {message}\n"


class JobLogHandler(logging.Handler):
    """Appends the lines of one job's run to its log in the database, one update per line.

    Only records that carry this job's id (`extra={"job_id": ...}`) are taken.
    """

    def __init__(self, job_id: int) -> None:
        super().__init__(level=logging.INFO)
        self.job_id = job_id
        formatter = logging.Formatter("%(asctime)s %(message)s", LOG_DATE_FORMAT)
        formatter.converter = time.gmtime
        self.setFormatter(formatter)

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "job_id", None) != self.job_id:
            return
        try:
            # A line may quote a feed's value (a file name, a reason): the log keeps it cut.
            line = bounded(self.format(record), LOG_LINE_CHARS)
            Job.objects.filter(pk=self.job_id).update(log=log_appended(line))
        except Exception:
            self.handleError(record)


class ToPythonLogging(logging.Handler):
    """Passes a job's lines on to the `patronsync.jobs` logger, prefixed with the job id.

    The run's logger stays at INFO so that the job's log has every line whatever the configured
    level; the rest of logging sees the lines at its own level, as if they had propagated.
    """

    target = "patronsync.jobs"

    def emit(self, record: logging.LogRecord) -> None:
        parent = logging.getLogger(self.target)
        if not parent.isEnabledFor(record.levelno):
            return
        forwarded = copy.copy(record)
        forwarded.msg = f"job {getattr(record, 'job_id', '?')}: {record.getMessage()}"
        forwarded.args = None
        parent.handle(forwarded)


run_logger = logging.getLogger("patronsync.jobs.run")
run_logger.setLevel(logging.INFO)
run_logger.propagate = False
run_logger.addHandler(ToPythonLogging())


def worker_name() -> str:
    """This process, as a job records who runs it: host:pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def job_cancel_abandoned(*, job: Job, actor: str) -> bool:
    """End a running job whose lease ran out `cancelled` at once; False when it is not that.

    No worker holds such a job (its process died, or it stopped renewing): there is no runner
    to ask to stop, so the cancel ends the job itself, with the same conditional update a
    claim makes, and its half-done files are marked cancelled as the runner would. A worker
    that takes the job over at the same moment wins or loses as one update against the other.
    """
    now = timezone.now()
    with transaction.atomic():
        ended = (
            Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING)
            .filter(lease_expired_q(now))
            .update(
                status=JobStatus.CANCELLED,
                finished_at=now,
                lease_until=None,
                cancel_requested_by=actor,
                log=log_appended(
                    log_line(f"Cancelled by {actor}; no worker held the job (its lease ran out)")
                ),
            )
        )
        if ended:
            ReceivedFile.objects.filter(job_id=job.pk, status=FileStatus.PROCESSING).update(
                status=FileStatus.CANCELLED
            )
    return bool(ended)


class Heartbeat(threading.Thread):
    """Renews a running job's lease every quarter of the lease, while its runner works.

    Batches and file boundaries renew the lease too, but a long download, or one long batch,
    would let it run out on a live worker. The renewal is the runner's own conditional update
    (still running, still this worker's): once the job is taken over or has ended, it renews
    nothing and the heartbeat stops. It runs on a database connection of its own, closed when
    it stops. On SQLite the batch being committed may hold the database's write lock: a
    renewal that cannot be made (OperationalError) is tried again at the next beat, and never
    stops the job.
    """

    def __init__(self, job_id: int, worker: str) -> None:
        super().__init__(name=f"heartbeat-job-{job_id}", daemon=True)
        self.job_id = job_id
        self.worker = worker
        self.stopped = threading.Event()

    def run(self) -> None:
        log = logging.getLogger(__name__)
        try:
            while not self.stopped.wait(heartbeat_every()):
                now = timezone.now()
                try:
                    held = Job.objects.filter(
                        pk=self.job_id, status=JobStatus.RUNNING, worker=self.worker
                    ).update(heartbeat_at=now, lease_until=lease_from(now))
                except DatabaseError as exc:
                    log.info("job %s: heartbeat not written (%s); next beat", self.job_id, exc)
                    continue
                if not held:
                    return  # ended, cancelled or taken over: the runner finds out itself
        finally:
            connections.close_all()  # this thread's connections only

    def stop(self) -> None:
        self.stopped.set()
        if self.ident is not None:  # started
            self.join()


def _as_stored(value: Any) -> Any:
    """`value` as a JSON field gives it back (tuples become lists, dates text)."""
    return json.loads(json.dumps(value, default=str))


def _loses_segments(changes: dict[str, Any]) -> bool:
    """Whether a user's changes remove a segment (a list of segments that gets shorter)."""
    return any(
        isinstance(change, dict)
        and isinstance(change.get("before"), list)
        and len(change["before"]) > len(change.get("after") or [])
        for change in changes.values()
    )


def _plan_key(position: Any) -> tuple[str, str, int]:
    """A user's place as its record stores it: file, zip entry and ordinal in the entry."""
    return (position.file[:512], (position.entry or "")[:512], position.ordinal)


class PlanFollower:
    """The apply pass of a guarded run, beside the plan it applies (`Job.guard["plan"]`).

    The plan is the job's records up to `last_record_id`, in the order of the feed. Each
    applied batch is compared, user by user, with the plan's records of its positions (read by
    id, after the last one compared: one query a batch), which are then deleted in the batch's
    transaction once the applied records are in: a resumed apply pass goes on from the plan
    records left. A user whose applied outcome or changes differ from the plan's (the stored
    user changed since the plan was made, and was decided again against what is stored now)
    is counted as re-checked, and the first RECHECKED_EXAMPLES are named in the report.
    """

    def __init__(self, job_id: int, plan: dict[str, Any], applied: dict[str, Any]) -> None:
        self.job_id = job_id
        self.last_record_id = int(plan.get("last_record_id") or 0)
        self.file_order = {name: index for index, name in enumerate(plan.get("file_names", []))}
        self.rechecked = int(applied.get("rechecked", 0))
        self.examples: list[dict[str, Any]] = list(applied.get("examples", []))
        # The plan records before `cursor` are compared (and deleted): each batch reads on from
        # there by id, a range of the primary key, whatever other jobs' records lie around.
        first = (
            JobRecord.objects.filter(job_id=job_id, id__lte=self.last_record_id)
            .order_by("id")
            .values_list("id", flat=True)
            .first()
        )
        self.cursor = (first - 1) if first is not None else self.last_record_id

    def _differs(self, primary_id: str, planned: str, applied: str) -> None:
        self.rechecked += 1
        if len(self.examples) < RECHECKED_EXAMPLES:
            self.examples.append({"user": primary_id, "planned": planned, "applied": applied})

    def follow(self, outcomes: Sequence[Outcome]) -> None:
        """Compare a batch with the plan, and delete the plan records it stands for (to be
        called after the batch's own records are inserted, in the same transaction)."""
        if not outcomes or not self.last_record_id:
            for o in outcomes:
                if o.outcome != RecordOutcome.UNCHANGED:
                    self._differs(o.primary_id, str(RecordOutcome.UNCHANGED), str(o.outcome))
            return
        file = outcomes[0].raw.position.file[:512]
        here = self.file_order.get(file, len(self.file_order))
        # A user's place: its file's zip entry and its ordinal in that entry (ordinals start
        # again in each entry, and a batch may span two entries of a zip).
        batch = {_plan_key(o.raw.position) for o in outcomes}
        rows = list(
            JobRecord.objects.filter(
                job_id=self.job_id, id__gt=self.cursor, id__lte=self.last_record_id
            )
            .order_by("id")
            .values_list("id", "file", "entry", "position", "outcome", "reason_code", "changes",
                         "primary_id")[: len(outcomes)]
        )  # fmt: skip
        planned: dict[tuple[str, str, int], tuple[str, str, Any]] = {}
        consumed: list[int] = []
        for pk, rec_file, entry, position, outcome, reason_code, changes, primary_id in rows:
            order = self.file_order.get(rec_file)
            key = (rec_file, entry, position)
            if order is None or order > here or (order == here and key not in batch):
                break
            consumed.append(pk)
            if order < here:  # of an earlier file, not met again: applied otherwise
                self._differs(primary_id, outcome, "not in the feed applied")
                continue
            planned[key] = (outcome, reason_code, changes)
        for o in outcomes:
            plan = planned.pop(_plan_key(o.raw.position), None)
            applied = str(o.outcome)
            if plan is None:
                if applied != RecordOutcome.UNCHANGED:
                    self._differs(o.primary_id, str(RecordOutcome.UNCHANGED), applied)
                continue
            outcome, reason_code, changes = plan
            expected = APPLIED_OF_PLANNED.get(outcome, outcome)
            same = applied == expected and (
                o.reason_code == reason_code
                if applied == RecordOutcome.REJECTED
                else _as_stored(o.changes) == changes
            )
            if not same:
                self._differs(o.primary_id, outcome, applied)
        if consumed:
            JobRecord.objects.filter(
                job_id=self.job_id, id__gte=consumed[0], id__lte=consumed[-1]
            ).delete()
            self.cursor = consumed[-1]

    def finish(self) -> int:
        """Compare the plan records no batch stood for with what the rest of the run recorded
        (the leavers step's records, which name no file: `jobs.leavers`), by user and outcome;
        each that differs is counted as re-checked. Deletes them; returns how many there were."""
        left = JobRecord.objects.filter(job_id=self.job_id, id__lte=self.last_record_id)
        planned = Counter(
            (primary_id, APPLIED_OF_PLANNED.get(outcome, outcome))
            for primary_id, outcome in left.values_list("primary_id", "outcome").iterator()
        )
        steps = (RecordOutcome.EXPIRED, RecordOutcome.DEACTIVATED, RecordOutcome.REACTIVATED)
        done = Counter(
            JobRecord.objects.filter(
                job_id=self.job_id, id__gt=self.last_record_id, file="", outcome__in=steps
            )
            .values_list("primary_id", "outcome")
            .iterator()
        )
        for (primary_id, outcome), n in (planned - done).items():
            for _ in range(n):
                self._differs(primary_id, outcome, "not applied")
        for (primary_id, outcome), n in (done - planned).items():
            for _ in range(n):
                self._differs(primary_id, "not planned", outcome)
        count = sum(planned.values())
        left.delete()
        return count

    def state(self) -> dict[str, Any]:
        return {"rechecked": self.rechecked, "examples": self.examples}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


class JobRunner:
    """Runs one job: claim it, take its files, record each batch, end it with its status.

    `failed` is an expected failure (a folder missing, a connection refused: a PatronsyncError);
    `errored` an unexpected exception, with its traceback in the job's log. A process that dies
    leaves the job running with its checkpoint and its lease: the next run of the profile, or a
    worker, resumes it once the lease has run out. A BaseException such as KeyboardInterrupt
    gives the lease back as it unwinds, so the next run resumes at once.
    """

    def __init__(
        self,
        job: Job,
        *,
        worker: str | None = None,
        progress: Progress | None = None,
        stopping: Callable[[], bool] | None = None,
    ) -> None:
        self.job = job
        # Asked at each write outside a transaction (a file boundary): True when the worker was
        # asked to stop (SIGTERM); the job then stops there, its lease given back.
        self.stopping = stopping
        self.mode = mode_of(job.kind)
        # Named per claim, so that a write is the claim's own even when one process claims the
        # same job twice (a resume in the process whose first run was interrupted).
        self.worker = f"{worker or worker_name()}#{secrets.token_hex(4)}"
        self.progress = progress
        self.resumed = False
        self.taking_id: int | None = None  # the ledger row of the file being loaded
        self.logger = logging.LoggerAdapter(run_logger, {"job_id": job.id})
        self.files: list[dict[str, Any]] = list(job.files)
        self.gave_up = False  # the claim found the job tried too often, and errored it
        # The mass-change guard's two passes: while `planning`, the run writes no user (the
        # plan pass, the dry run's path); `follower` compares the apply pass with the plan.
        self.planning = False
        self.follower: PlanFollower | None = None
        self.plan_outcomes: Counter[str] = Counter()
        self.segment_removals = 0
        # The apply pass's files: (name, sha256) -> the users the plan pass read from it.
        self.planned_files: dict[tuple[str, str], int] = {}
        # A Synchronize's plan pass: what it kept, for an apply pass of the plan alone; that
        # pass: the plan's files (`jobs.planned`).
        self.keeping: PlanKeeping | None = None
        self.apply_from: dict[str, Any] | None = None
        # The snapshot of known hashes the apply pass's check took, when the feed is read again.
        self.snapshot: KnownHashes | None = None

    # Claiming and ending: the job's status, times and worker.

    def claim(self) -> bool:
        """Take the job for this worker with one conditional update that names the worker and
        gives it a lease; False when it is not there to take (another worker holds it, it was
        taken first, or it ended).

        A pending job becomes running. A running job is taken over, and resumes from its
        checkpoint, only when its lease has run out: whether the process that held it is alive
        is not asked (a PID may be reused, a host may be another).

        Each claim counts a try (`attempts`). A stale job already tried
        PATRONSYNC_JOB_MAX_ATTEMPTS times is not taken: it is ended errored (`gave_up`).
        """
        now = timezone.now()
        job = self.job
        jobs = Job.objects.filter(pk=job.pk)
        taken = jobs.filter(status=JobStatus.PENDING).update(
            status=JobStatus.RUNNING,
            worker=self.worker,
            started_at=now,
            heartbeat_at=now,
            lease_until=lease_from(now),
            attempts=F("attempts") + 1,
        )
        if not taken:
            stale = jobs.filter(status=JobStatus.RUNNING).filter(lease_expired_q(now))
            taken = stale.filter(attempts__lt=max_attempts()).update(
                worker=self.worker,
                heartbeat_at=now,
                lease_until=lease_from(now),
                attempts=F("attempts") + 1,
            )
            self.resumed = bool(taken)
            if not taken:
                self.gave_up = self._give_up(now)
        if taken or self.gave_up:
            job.refresh_from_db()
        if self.gave_up:
            job_end_hooks_run(job=job)  # errored without a run: told as any job's end is
        return bool(taken)

    def _give_up(self, now: Any) -> bool:
        """End errored a stale job whose workers stopped PATRONSYNC_JOB_MAX_ATTEMPTS times (a
        job that kills its worker, by its size or its data, is not tried forever); False when
        the job is not that. One conditional update, as a claim: a worker that takes the job at
        the same moment wins or loses against it."""
        limit = max_attempts()
        found = (
            Job.objects.filter(pk=self.job.pk, status=JobStatus.RUNNING, attempts__gte=limit)
            .filter(lease_expired_q(now))
            .values_list("attempts", "worker")
            .first()
        )
        if found is None:
            return False
        attempts, last = found
        message = (
            f"Errored: its workers stopped {attempts} time{'s' if attempts != 1 else ''} "
            f"(PATRONSYNC_JOB_MAX_ATTEMPTS is "
            f"{limit}); last worker {last or '-'}; not tried again"
        )
        with transaction.atomic():
            ended = (
                Job.objects.filter(
                    pk=self.job.pk, status=JobStatus.RUNNING, attempts=attempts, worker=last
                )
                .filter(lease_expired_q(now))
                .update(
                    status=JobStatus.ERRORED,
                    finished_at=now,
                    lease_until=None,
                    log=log_appended(log_line(message)),
                )
            )
            if ended:
                ReceivedFile.objects.filter(
                    job_id=self.job.pk, status=FileStatus.PROCESSING
                ).update(status=FileStatus.FAILED)
        if ended:
            logging.getLogger("patronsync.jobs").error("job %s: %s", self.job.pk, message)
        return bool(ended)

    def _hold(self, **fields: Any) -> None:
        """Write `fields` on the job and renew its lease, if it is still running and still this
        worker's; otherwise raise JobTakenOver (inside a transaction, which then rolls back).

        Every write of the runner goes through here: it is what keeps a worker whose lease ran
        out from writing over the worker that took its job over.
        """
        if self.stopping is not None and not connection.in_atomic_block and self.stopping():
            raise WorkerStopping("asked to stop")
        now = timezone.now()
        held = Job.objects.filter(pk=self.job.pk, status=JobStatus.RUNNING, worker=self.worker)
        if not held.update(**{"heartbeat_at": now, "lease_until": lease_from(now), **fields}):
            status, holder = Job.objects.filter(pk=self.job.pk).values_list("status", "worker")[0]
            if status == JobStatus.RUNNING:
                raise JobTakenOver(f"worker {holder} took the job over; this worker stops")
            raise JobTakenOver(f"the job is {status}; this worker stops")

    def _release(self, *, stopped: bool = False) -> None:
        """Give the lease back, so that the next run resumes the job at once (the process is
        unwinding from a KeyboardInterrupt or the like, and writes nothing more).

        A worker that was `stopped` (SIGTERM, SIGINT) gives its try back too: a restart of the
        service is not one of the deaths PATRONSYNC_JOB_MAX_ATTEMPTS counts.
        """
        held = Job.objects.filter(pk=self.job.pk, status=JobStatus.RUNNING, worker=self.worker)
        back = {"attempts": F("attempts") - 1} if stopped else {}
        for last_try in (False, True):
            try:
                if held.update(lease_until=timezone.now(), **back) and stopped:
                    self.logger.info("Worker stopped; the job waits for the next worker")
                return
            except Exception:
                if last_try:  # the database may be what failed: the lease runs out by itself
                    logging.getLogger(__name__).warning("job %s: lease not given back", self.job.id)
                    return
                # The interruption may have come in the middle of a query, leaving the
                # connection unusable: once more on a new one.
                connection.close()

    def _end(self, status: str) -> bool:
        """Give the job its final status, and its files left half-done theirs; False (and
        nothing written) when the job is no longer this worker's."""
        try:
            with transaction.atomic():
                self._hold(status=status, finished_at=timezone.now(), lease_until=None)
                left = FileStatus.CANCELLED if status == JobStatus.CANCELLED else FileStatus.FAILED
                ReceivedFile.objects.filter(job=self.job, status=FileStatus.PROCESSING).update(
                    status=left
                )
        except JobTakenOver as exc:
            self.logger.warning("Stopped: %s", exc)
            return False
        return True

    # The engine's BatchSink.

    def record_batch(self, *, outcomes: Sequence[Outcome], checkpoint: dict[str, Any]) -> None:
        """Record a decided batch: its records, counters, checkpoint, and a renewed lease.

        Called inside the transaction that writes the batch's users. Counters are added to in
        the database, so the row needs no reading back. The job's row is written first, on the
        condition that this worker still holds the job (JobTakenOver otherwise): the batch's
        users and records then roll back with it.
        """
        job_id = self.job.id
        counts = Counter(COUNTER_OF_OUTCOME[o.outcome] for o in outcomes)
        keeping = self.keeping
        if keeping is not None:
            keeping.note(outcomes)
        if self.planning or self.job.dry_run:
            self.plan_outcomes.update(str(o.outcome) for o in outcomes)
            self.segment_removals += sum(
                1 for o in outcomes if o.outcome == RecordOutcome.WOULD_UPDATE
                and _loses_segments(o.changes)
            )  # fmt: skip
        self._hold(
            total_records_processed=F("total_records_processed") + len(outcomes),
            **{counter: F(counter) + n for counter, n in counts.items()},
            # The ledger row too: the same bytes may come twice in one run, under two names.
            checkpoint={
                **checkpoint,
                "taking": self.taking_id,
                **({"rechecked": self.follower.state()} if self.follower is not None else {}),
            },
        )
        insert_rows(
            JobRecord,
            RECORD_COLUMNS,
            [
                (job_id, o.raw.position.file[:512], (o.raw.position.entry or "")[:512],
                 o.raw.position.line,
                 o.raw.position.ordinal, o.match_value[:255], o.primary_id[:255],
                 o.patron.id if o.patron is not None else None, str(o.outcome), o.reason_code,
                 o.reason, o.changes, _kept_xml(o, every=keeping is not None))
                for o in outcomes
                if o.outcome != RecordOutcome.UNCHANGED
            ],
        )  # fmt: skip
        if self.follower is not None:
            self.follower.follow(outcomes)

    def stop_requested(self) -> str:
        return str(
            Job.objects.filter(pk=self.job.pk).values_list("cancel_requested_by", flat=True)[0]
        )

    def log(self, level: int, message: str) -> None:
        """Add a line to the job's log (and to Python logging, with the job id)."""
        self.logger.log(level, "%s", message)

    # The run.

    def run(self) -> Job:
        """Run the claimed job to its end; returns it as stored, with its final status."""
        handler = JobLogHandler(self.job.id)
        run_logger.addHandler(handler)
        # A claim made inside a caller's transaction is not seen by another connection: there
        # is nothing a heartbeat could renew.
        heartbeat = None if connection.in_atomic_block else Heartbeat(self.job.id, self.worker)
        try:
            if heartbeat is not None:
                heartbeat.start()
            self._run()
        except BaseException as exc:
            if heartbeat is not None:
                heartbeat.stop()
            self._release(stopped=isinstance(exc, WorkerStopping | KeyboardInterrupt))
            raise
        finally:
            if heartbeat is not None:
                heartbeat.stop()
            run_logger.removeHandler(handler)
        self.job.refresh_from_db()
        if self.job.worker == self.worker and self.job.status not in ACTIVE_STATUSES:
            job_end_hooks_run(job=self.job)  # this worker ended it: email, webhooks (logged)
        return self.job

    def _run(self) -> None:
        job = self.job
        if self.resumed:
            self.logger.info("resumed after interruption")
            if requested_by := self.stop_requested():  # asked while no worker held it
                self.logger.info("Cancelled by %s before it resumed", requested_by)
                self._end(JobStatus.CANCELLED)
                return
        self.logger.info("%s started (%s)", job.title, "dry run" if job.dry_run else "live")
        # Purge User Records takes no file: its plan, guard and apply pass are `jobs.purge`'s.
        if job.kind == JobKind.PURGE:
            purge_run(runner=self)
            return
        try:
            settings = self._guard_settings()
            if settings is None or job.dry_run:
                had_problems = self._take_files(self._context())
                if settings is not None:  # a dry run: would a live run be held?
                    self._guard_findings(settings, had_problems)
            else:
                guarded = self._guarded(settings)
                if guarded is None:
                    return  # held for approval
                had_problems = guarded
        except JobTakenOver as exc:
            # Not this worker's job any more: it writes nothing, not even the job's end.
            self.logger.warning("Stopped: %s", exc)
            return
        except JobCancelled as exc:
            self.logger.info("%s", exc)
            self._end(JobStatus.CANCELLED)
            return
        except PatronsyncError as exc:
            self.logger.warning("Failed: %s", exc)
            self._end(JobStatus.FAILED)
            return
        except Exception:
            self.logger.error("Errored:", exc_info=True)
            self._end(JobStatus.ERRORED)
            return
        rejected = Job.objects.filter(pk=job.pk).values_list("rejected", flat=True)[0]
        clean = not had_problems and not rejected
        status = JobStatus.COMPLETED if clean else JobStatus.COMPLETED_WITH_ERRORS
        if self._end(status):
            self.logger.info("Finished: %s", status.label)

    # The mass-change guard: plan the whole feed, check the plan, then hold or apply it.

    def _guard_settings(self) -> dict[str, Any] | None:
        """The guard's settings for this job (from its parameters), None when it does not
        guard it (the guard is off, or the kind is not one it plans)."""
        if self.job.kind not in GUARDED_KINDS:
            return None
        try:
            settings = guard_settings(self.job.parameters.get("guard") or {})
        except GuardSettingError as exc:
            raise ConfigurationError(f"The profile's guard setting {exc}") from None
        return settings if settings["enabled"] else None

    def _guard_findings(
        self, settings: dict[str, Any], had_problems: bool, apply_from: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The plan just made (this run's records so far, counted as they were recorded):
        its counts, and the thresholds it crosses; written on the job (`Job.guard`), with what
        an apply pass of the plan alone needs (`apply_from`, `jobs.planned`), if kept."""
        job = self.job
        taken = [f for f in self.files if "users" in f]
        counts = PlanCounts(
            creates=self.plan_outcomes[RecordOutcome.WOULD_CREATE],
            updates=self.plan_outcomes[RecordOutcome.WOULD_UPDATE],
            segment_removals=self.segment_removals,
            expirations=self.plan_outcomes[RecordOutcome.WOULD_EXPIRE],
            deactivations=self.plan_outcomes[RecordOutcome.WOULD_DEACTIVATE],
            feed_users=sum(int(f["users"]) for f in taken),
        )
        profile_code = str(job.parameters["profile"])
        profile_users = Patron.objects.filter(
            institution=job.institution, external_id=profile_code
        ).count()
        last_complete = None
        if not job.parameters.get("rerun_of"):  # a Run again loads a few users by design
            last_complete = (
                Job.objects.filter(
                    profile_id=job.profile_id,
                    kind=job.kind,
                    dry_run=False,
                    rerun_of__isnull=True,
                    status__in=(JobStatus.COMPLETED, JobStatus.COMPLETED_WITH_ERRORS),
                    total_records_processed__gt=0,
                )
                .exclude(pk=job.pk)
                .order_by("-finished_at", "-id")
                .values_list("total_records_processed", flat=True)
                .first()
            )
        crossed = guard_check(counts, profile_users, last_complete, settings) if taken else []
        last_record_id = (
            JobRecord.objects.filter(job=job).order_by("-id").values_list("id", flat=True).first()
        )
        guard = {
            "pass": "planned",
            "settings": settings,
            "plan": {
                "counts": counts.as_dict(),
                "profile_users": profile_users,
                "last_complete_users": last_complete,
                "files": [
                    {"name": f["name"], "sha256": f.get("sha256", ""), "size": f.get("size"),
                     "users": f["users"]}
                    for f in taken
                ],
                "file_names": [f["name"][:512] for f in taken],
                # The files the plan pass took no user from (left waiting, too large, not
                # downloaded): the apply pass reports them again, as a one-pass run would.
                "not_taken": [f for f in self.files if "users" not in f],
                "last_record_id": last_record_id or 0,
                "had_problems": had_problems,
                "planned_at": timezone.now().isoformat(),
                **({"apply_from": apply_from} if apply_from else {}),
            },
            "crossed": crossed,
        }  # fmt: skip
        if job.dry_run:
            guard["pass"] = "dry run"
            for finding in crossed:
                self.logger.warning("A live run would be held: %s", finding["message"])
        self._hold(guard=guard)
        job.guard = guard
        return guard

    def _guarded(self, settings: dict[str, Any]) -> bool | None:
        """Plan the whole feed, check it, then hold the job (None) or apply the plan; returns
        whether the run had file problems. An approved job applies the plan it was held with,
        without checking the thresholds again; a job resumed in its apply pass goes on."""
        state = dict(self.job.guard or {})
        if state.get("pass") == "one pass" or (not state and self._guard_cannot_hold()):
            if not state:
                self._hold(guard={"pass": "one pass"})
                self.job.guard = {"pass": "one pass"}
                self.logger.info(
                    "A first Import into an empty profile: the guard cannot hold it (it counts "
                    "no creates there, and an Import updates no one), so it runs in one pass"
                )
            return self._take_files(self._context())
        if state.get("pass") != "apply":
            if not state.get("approved"):
                had_problems = self._plan(settings)
                state = dict(self.job.guard)
                if not state["plan"]["files"] and not self._housekeeping_left():
                    return had_problems  # no file was taken: nothing to apply
                if state["crossed"]:
                    self._hold_for_approval(state)
                    return None
            self._start_apply(state)
            state = dict(self.job.guard)
        had_problems = self._apply(state)
        # Files the plan left waiting are problems of this run too (the report lists them).
        return had_problems or bool(state["plan"].get("not_taken"))

    def _housekeeping_left(self) -> bool:
        """Whether files an earlier job loaded still wait for their `.handled` rename: the plan
        pass renames nothing, so the apply pass runs (with no file to load) to rename them."""
        if self.job.parameters.get("rerun_of"):
            return False
        return bool(self._rows_left_unmarked(str(self.job.parameters["input_path"])))

    def _guard_cannot_hold(self) -> bool:
        """Whether no plan of this job could cross a threshold: an Import (which creates and
        updates no one) into a profile with no user and no complete Import yet. Creates into an
        empty profile are not counted, there are no leavers, and no earlier feed to compare the
        feed's size with, so the plan pass would only double the first load's time."""
        job = self.job
        if job.kind != JobKind.IMPORT or job.parameters.get("rerun_of"):
            return False
        profile_code = str(job.parameters["profile"])
        if Patron.objects.filter(institution=job.institution, external_id=profile_code).exists():
            return False
        return not (
            Job.objects.filter(
                profile_id=job.profile_id,
                kind=job.kind,
                dry_run=False,
                status__in=(JobStatus.COMPLETED, JobStatus.COMPLETED_WITH_ERRORS),
                total_records_processed__gt=0,
            )
            .exclude(pk=job.pk)
            .exists()
        )

    def _plan(self, settings: dict[str, Any]) -> bool:
        """The plan pass: the whole feed through the dry run's path (no user written, no file
        taken or renamed), its records the plan. A plan pass resumed after its worker died
        begins again."""
        self._hold(
            guard={"pass": "plan"}, files=[], checkpoint={}, users_expected=None,
            total_records_processed=0, created=0, updated=0, unchanged=0, rejected=0,
        )  # fmt: skip
        JobRecord.objects.filter(job=self.job).delete()
        self.files, self.job.checkpoint = [], {}
        self.plan_outcomes, self.segment_removals = Counter(), 0
        self.logger.info("Planning the whole feed first (mass-change guard); nothing is written")
        ctx = self._context()
        ctx.dry_run = True
        self.planning = True
        # A Synchronize matching on the primary ID keeps what an apply pass of its plan alone
        # needs (`jobs.planned`).
        if (
            self.job.kind == JobKind.SYNCHRONIZE
            and not ctx.match_types
            and ctx.match_type == "PRIMARY_ID"
            and not self.job.parameters.get("rerun_of")
        ):
            self.keeping = PlanKeeping()
        # The progress a caller follows (`patronsync run`'s bar, its lines) is the apply pass's:
        # users applied of the feed's users, counted once.
        progress, self.progress = self.progress, None
        try:
            # With the leavers step's plan (`jobs.leavers`): its WOULD_EXPIRE and
            # WOULD_DEACTIVATE outcomes are added to `plan_outcomes`, so the guard counts them.
            had_problems = self._take_files(ctx)
        finally:
            self.planning = False
            self.progress = progress
        apply_from = self.keeping.state(ctx.known) if self.keeping is not None else None
        self.keeping = None
        guard = self._guard_findings(settings, had_problems, apply_from)
        counts = guard["plan"]["counts"]
        self.logger.info(
            "Plan: %s to create, %s to update (%s losing segments), %s to expire, %s to "
            "deactivate, %s users in the feed",
            counts["creates"], counts["updates"], counts["segment_removals"],
            counts["expirations"], counts["deactivations"], counts["feed_users"],
        )  # fmt: skip
        return had_problems

    def _hold_for_approval(self, state: dict[str, Any]) -> None:
        """End the run held for approval: nothing applied, the plan and what it crossed kept."""
        for finding in state["crossed"]:
            self.logger.warning("Held for approval: %s", finding["message"])
        self.logger.warning(
            "Nothing was applied. Approve the plan (patronsync job approve %s) to apply it, or "
            "reject it (patronsync job reject %s); until then later runs of profile %s are "
            "skipped",
            self.job.id,
            self.job.id,
            self.job.parameters["profile"],
        )
        with transaction.atomic():
            self._hold(status=JobStatus.HELD, finished_at=timezone.now(), lease_until=None)

    def _start_apply(self, state: dict[str, Any]) -> None:
        """Begin the apply pass: the feed must be the one planned; the counters start again."""
        plan = state["plan"]
        self._check_feed_unchanged(plan)
        taken: list[KnownHashes] = []

        def snapshot() -> KnownHashes:
            taken.append(known_hashes(self._context()))
            return taken[-1]

        alone = plan_applies_alone(plan, snapshot)
        # The feed read again: its users are looked up in the snapshot just taken.
        self.snapshot = taken[-1] if taken and not alone else None
        state = {**state, "pass": "apply", "from_plan": bool(alone)}
        not_taken = list(plan.get("not_taken") or [])
        self._hold(
            guard=state, files=not_taken, checkpoint={}, users_expected=None,
            total_records_processed=0, created=0, updated=0, unchanged=0, rejected=0,
        )  # fmt: skip
        self.files, self.job.checkpoint, self.job.guard = not_taken, {}, state
        if state.get("approved"):
            self.logger.info(
                "Applying the plan approved by %s (the thresholds are not checked again)",
                self.job.decided_by,
            )
        else:
            self.logger.info("The plan crosses no threshold of the guard; applying it")
        if state["from_plan"]:
            kept = sum(int(f["users"]) for f in plan["apply_from"]["files"].values())
            self.logger.info(
                "No stored user changed since the plan was made: applying its records alone; "
                "the %s users it keeps unchanged are not read again",
                f"{kept:,}",
            )
        elif alone is False:
            self.logger.info(
                "Users were written since the plan was made: the feed is read again, and each "
                "user decided against what is stored now"
            )

    def _check_feed_unchanged(self, plan: dict[str, Any]) -> None:
        """Raise ConfigurationError naming what changed when the planned files are no longer
        in the folder as they were planned (a Run again loads kept records: nothing to check)."""
        if self.job.parameters.get("rerun_of"):
            return
        folder = str(self.job.parameters["input_path"])
        with transport_for(self._connection()) as transport:
            transport.logger = self.logger
            listed = {remote.name: remote.size for remote in transport.list(folder)}
        changes = plan_changes(plan, listed, folder)
        if changes:
            raise ConfigurationError(
                f"The feed changed since the plan was made ({'; '.join(changes)}); nothing "
                "was applied"
            )

    def _apply(self, state: dict[str, Any]) -> bool:
        """The apply pass: the feed again, live, each batch compared with the plan."""
        plan = state["plan"]
        self.planned_files = {(f["name"], f["sha256"]): int(f["users"]) for f in plan["files"]}
        self.apply_from = plan["apply_from"]["files"] if state.get("from_plan") else None
        self.follower = PlanFollower(self.job.id, plan, self.job.checkpoint.get("rechecked") or {})
        ctx = self._context()
        ctx.known, self.snapshot = self.snapshot, None
        had_problems = self._take_files(ctx)  # the leavers step applied with it
        self.follower.finish()
        applied = self.follower.state()
        applied["as"] = "re-checked" if applied["rechecked"] else "exact"
        if applied["rechecked"]:
            named = ", ".join(
                f"{e['user']} ({e['planned']} -> {e['applied']})" for e in applied["examples"]
            )
            self.logger.warning(
                "Applied the plan re-checked against changes made since: %s users came out "
                "otherwise than planned, each decided against what was stored by then: %s",
                applied["rechecked"],
                named,
            )
        else:
            self.logger.info("Applied exactly the plan")
        guard = {**state, "applied": applied}
        self._hold(guard=guard)
        self.job.guard = guard
        self.follower, self.apply_from = None, None
        return had_problems

    def _context(self) -> RunContext:
        """The run's settings, from the job's parameters (not from the profile as it is now)."""
        job, parameters = self.job, self.job.parameters
        match_type, unmatched = self.mode.match_settings(parameters)
        record_type = str(parameters["record_type"])
        profile_code = str(parameters["profile"])
        return RunContext(
            job_id=job.id,
            job_title=job.title,
            profile_code=profile_code,
            sink=self,
            institution=job.institution,
            kind=job.kind,
            dry_run=job.dry_run,
            codes=code_tables_for_institution(institution=job.institution),
            match_type=match_type,
            match_types=tuple(parameters.get("match_id_types") or ()),
            unmatched=unmatched,
            record_type=record_type,
            # A job stored before the setting existed takes no other profile's users.
            take_over_users=bool(parameters.get("take_over_users", False)),
            # Field ownership and protection mode as the job stored them (none: Swap All, Alma).
            swap=SwapContext.for_profile(
                profile_code=profile_code,
                record_type=record_type,
                ownership=parameters.get("ownership") or {},
                protection=str(parameters.get("protection") or "alma"),
            ),
            touched=TouchedUsers.load(job.checkpoint.get("touched", "")),
        )

    def _connection(self) -> Connection:
        name = self.job.parameters["connection"]
        connection = Connection.objects.filter(institution=self.job.institution, name=name).first()
        if connection is None:
            raise ConfigurationError(f"Connection {name}, which this job reads, no longer exists")
        return connection

    def _save_files(self) -> None:
        self._hold(files=self.files)

    def _add_file(self, entry: dict[str, Any]) -> None:
        """Put a file's entry in the report, in place of the one a resumed taking left."""
        key = (entry["name"], entry.get("sha256"))
        self.files = [f for f in self.files if (f["name"], f.get("sha256")) != key] + [entry]
        self._save_files()

    def _take_files(self, ctx: RunContext) -> bool:
        """Load the run's feed (`_take_feed`); True if a file had problems.

        Leavers (`jobs.leavers`): a complete feed's run notes every user it carries, and once
        the feed is loaded without file problems the users missing from it are expired,
        deactivated or, back in it, reactivated (a dry run or a plan pass records WOULD_*).
        """
        leavers = JobLeavers.start(runner=self, ctx=ctx)
        had_problems = self._take_feed(ctx)
        leavers.finish(had_problems=had_problems)
        return had_problems

    def _take_feed(self, ctx: RunContext) -> bool:
        """Load every `*.zip` of the folder not marked handled; True if a file had problems.

        Before anything is downloaded: a file whose `.handled` rename failed after an earlier
        job committed its users is renamed now, not loaded again; fewer new files than the
        connection's minimum number of files means none is taken; over its maximum (or Alma's
        20 zips a run) the first ones by name are taken and the rest wait for the next run.
        The report names the files that wait, and why.
        """
        if self.job.parameters.get("rerun_of"):
            return self._take_rejected(ctx)
        connection = self._connection()
        folder = str(self.job.parameters["input_path"])
        where = folder or "(home folder)"
        with transport_for(connection) as transport:  # closes the session with the server
            transport.logger = self.logger  # its retries are lines of the job's log
            files, had_problems = self._files_left_unmarked(
                transport, folder, transport.list(folder)
            )
            if self.follower is not None:  # the apply pass takes the files planned, no other
                planned = {name for name, _ in self.planned_files}
                known = {entry["name"] for entry in self.files}  # the plan's, reported again
                later = [
                    remote.name
                    for remote in files
                    if remote.name not in planned and remote.name not in known
                ]
                if later:
                    self.logger.info(
                        "Came after the plan was made, left for the next run: %s",
                        ", ".join(later),
                    )
                files = [remote for remote in files if remote.name in planned]
            if not files:
                self.logger.info("No new zip files in %s", where)
                return had_problems
            if len(files) < connection.min_files:
                # Not `failed`: nothing is wrong with the files or the server, and Alma users
                # read "completed with errors" as "look at the report". The files are not
                # renamed: the next run takes them, once the rest of the export has arrived.
                message = (
                    f"{len(files)} zip file(s) in {where}, fewer than the minimum number of "
                    f"files of connection {connection.name} ({connection.min_files}); none is "
                    "taken, they wait for the next run"
                )
                self.logger.warning("%s", message)
                self._add_waiting(files, code="TOO_FEW_FILES", message=message)
                return True
            limit = min(connection.max_files or MAX_ZIPS_PER_RUN, MAX_ZIPS_PER_RUN)
            files, waiting = files[:limit], files[limit:]
            if waiting:
                why = (
                    f"Alma's limit of {MAX_ZIPS_PER_RUN} zip files a run"
                    if limit == MAX_ZIPS_PER_RUN
                    else f"the maximum number of files of connection {connection.name}"
                )
                skipped = ", ".join(f.name for f in waiting)
                self.logger.warning(
                    "More than %s zip files (%s); left for the next run: %s", limit, why, skipped
                )
                had_problems = True
            with tempfile.TemporaryDirectory(prefix="patronsync-") as workdir:
                for remote in files:
                    try:
                        took = self._take_file(
                            ctx, transport, folder, remote, Path(workdir), connection.max_file_bytes
                        )
                    except TransportError as exc:  # the download failed, after its retries
                        problem = {"code": "NOT_DOWNLOADED", "message": f"{remote.name}: {exc}"}
                        self._add_file({"name": remote.name, "size": remote.size,
                                        "problems": [problem]})  # fmt: skip
                        raise
                    had_problems = took or had_problems
            if waiting:
                self._add_waiting(
                    waiting, code="LEFT_FOR_NEXT_RUN", message=f"over {why}; left for the next run"
                )
        return had_problems

    def _take_rejected(self, ctx: RunContext) -> bool:
        """Run again: load the users the first job rejected, from the XML kept on its records,
        as this job's one file (`jobs.rerun`); no file is taken from the server. True if the
        load had problems, or some of those users kept no XML to load."""
        source = self.job.rerun_of
        if source is None:
            raise ConfigurationError(
                f"Job {self.job.parameters['rerun_of']}, whose rejected users this job loads "
                "again, no longer exists"
            )
        missing = job_rejected_count_without_xml(job=source)
        if missing:
            self.logger.warning(
                "%s of the users job %s rejected kept no XML (an Import keeps it only for the "
                "users its rules refuse): they are not loaded again",
                missing,
                source.process_id,
            )
        with tempfile.TemporaryDirectory(prefix="patronsync-") as workdir:
            feed = rerun_feed_write(source=source, folder=Path(workdir))
            self.logger.info(
                "Running again the %s rejected users of job %s (Process ID %s)",
                feed.users,
                source.id,
                source.process_id,
            )
            checkpoint = self.job.checkpoint
            resumed = checkpoint.get("file") == feed.sha256
            skip = int(checkpoint.get("position", 0)) if resumed else 0
            self._hold(users_expected=F("total_records_processed") - skip + feed.users)
            if skip:
                self.logger.info("%s: resuming after user %s", feed.name, skip)
            else:
                ctx.touched = TouchedUsers()
            users, problems = load_file(ctx, feed.path, feed.name, feed.sha256, skip, self.progress)
            entry: dict[str, Any] = {
                "name": feed.name,
                "size": feed.path.stat().st_size,
                "sha256": feed.sha256,
                "users": users,
                "problems": problems,
                "rerun_of": {"job_id": source.id, "process_id": source.process_id},
            }
        self.logger.info("%s: %s users read, %s file problems", feed.name, users, len(problems))
        self._add_file(entry)
        return bool(problems) or bool(missing)

    def _add_waiting(self, files: list[RemoteFile], *, code: str, message: str) -> None:
        """Entries in the report for files not taken this run, with one problem each."""
        for remote in files:
            problem = {"code": code, "message": f"{remote.name}: {message}"}
            self.files.append({"name": remote.name, "size": remote.size, "problems": [problem]})
        self._save_files()

    def _files_left_unmarked(
        self, transport: Transport, folder: str, listed: list[RemoteFile]
    ) -> tuple[list[RemoteFile], bool]:
        """The listed files less those an earlier job loaded but did not rename `.handled`
        (their ledger row has a `mark_error`: the rename failed, or the process died between
        the commit of the users and the rename): each of those is renamed now instead of being
        loaded twice. Returns the files to take, and True if a rename failed again (it is tried
        again at the next run, and said in the report).

        A listed file of the same name and size is downloaded and its sha256 compared with the
        row's: a new export that happens to have the name and size is loaded as any other file.
        A row whose file is no longer listed, or was replaced, waits for no rename any more.
        """
        rows = self._rows_left_unmarked(folder)
        if not rows:
            return listed, False
        listed_names = {remote.name for remote in listed}
        self._forget_unmarked(
            [row for row in rows if row.job_id is not None and row.name not in listed_names],
            f"is no longer in {folder or '(home folder)'} (renamed or removed on the server)",
        )
        files, had_problems = [], False
        with tempfile.TemporaryDirectory(prefix="patronsync-") as workdir:
            for remote in listed:
                earlier = self._same_file_left_unmarked(
                    transport, folder, remote, [row for row in rows if row.name == remote.name],
                    Path(workdir),
                )  # fmt: skip
                if earlier is None:
                    files.append(remote)
                    continue
                had_problems = self._rename_left_unmarked(transport, folder, remote, earlier) or (
                    had_problems
                )
        return files, had_problems

    def _rows_left_unmarked(self, folder: str) -> list[ReceivedFile]:
        """The profile's ledger rows waiting for a `.handled` rename in this job's folder (of
        its connection), oldest first; a row whose job was deleted may be of any folder."""
        connection_name = self.job.parameters["connection"]
        return [
            row
            for row in ReceivedFile.objects.filter(
                profile_id=self.job.profile_id, status__in=(FileStatus.HANDLED, FileStatus.FAILED)
            )
            .exclude(mark_error="")
            .select_related("job")
            .order_by("received_at", "id")
            if row.job is None
            or (
                row.job.parameters.get("connection") == connection_name
                and str(row.job.parameters.get("input_path", "")) == folder
            )
        ]

    def _forget_unmarked(self, rows: list[ReceivedFile], why: str) -> None:
        """Clear the `mark_error` of rows whose file is gone from the folder, with a log line
        each: no later run renames (and so skips) a file of that name for them."""
        if not rows or self.job.dry_run or self.planning:
            return
        for row in rows:
            self.logger.info(
                "%s (loaded by job %s, not yet renamed .handled) %s; no rename of it is waited for",
                row.name,
                row.job_id,
                why,
            )
        with transaction.atomic():
            self._hold()
            ReceivedFile.objects.filter(pk__in=[row.pk for row in rows]).update(mark_error="")

    def _same_file_left_unmarked(
        self,
        transport: Transport,
        folder: str,
        remote: RemoteFile,
        rows: list[ReceivedFile],
        workdir: Path,
    ) -> ReceivedFile | None:
        """The last of `rows` (those of the file's name) whose file this is, by size and
        sha256 (the file is downloaded to compare); the others are forgotten."""
        if not rows:
            return None
        sha256 = None
        if any(row.size == remote.size for row in rows):
            try:
                path = transport.fetch(folder, remote.name, workdir)
            except TransportError as exc:  # the download failed, after its retries
                problem = {"code": "NOT_DOWNLOADED", "message": f"{remote.name}: {exc}"}
                self._add_file({"name": remote.name, "size": remote.size, "problems": [problem]})
                raise
            sha256 = _sha256(path)
            if path.is_relative_to(workdir):  # a download (a local file is read in place)
                path.unlink(missing_ok=True)
        same = [row for row in rows if (row.size, row.sha256) == (remote.size, sha256)]
        self._forget_unmarked(
            [row for row in rows if row not in same and row.job_id is not None],
            "was replaced on the server by a file of other content, loaded as a new file",
        )
        return same[-1] if same else None

    def _rename_left_unmarked(
        self, transport: Transport, folder: str, remote: RemoteFile, earlier: ReceivedFile
    ) -> bool:
        """Rename `.handled` a file an earlier taking loaded; True if the rename failed again."""
        taken_by = f"job {earlier.job_id}" + (
            f", Process ID {earlier.job.process_id}" if earlier.job is not None else ""
        )
        if self.job.dry_run or self.planning:
            self.logger.info(
                "%s: loaded by %s, not yet renamed .handled; not loaded again (a dry run "
                "renames nothing)",
                remote.name,
                taken_by,
            )
            return False
        try:
            transport.mark_handled(folder, remote.name)
        except PatronsyncError as exc:
            said = str(exc).rstrip(".")
            message = (
                f"{remote.name}: loaded by {taken_by}, still not renamed "
                f"{remote.name}.handled on the server: {said}. It is not loaded again; each "
                "run tries the rename first"
            )
            self.logger.warning("%s", message)
            with transaction.atomic():
                self._add_file({"name": remote.name, "size": remote.size,
                                "problems": [{"code": "NOT_MARKED_HANDLED",
                                              "message": message}]})  # fmt: skip
                ReceivedFile.objects.filter(pk=earlier.pk).update(mark_error=str(exc))
            return True
        with transaction.atomic():
            self._hold()
            ReceivedFile.objects.filter(
                profile_id=self.job.profile_id,
                name=remote.name,
                size=remote.size,
                sha256=earlier.sha256,
            ).exclude(mark_error="").update(mark_error="")
        if earlier.mark_error == RENAME_PENDING:
            self.logger.info(
                "%s: renamed %s.handled by this run: its users were committed by %s, which "
                "stopped before renaming it; not loaded again",
                remote.name,
                remote.name,
                taken_by,
            )
        else:
            self.logger.info(
                "%s: renamed %s.handled (loaded by %s, whose rename failed); not loaded again",
                remote.name,
                remote.name,
                taken_by,
            )
        return False

    def _mark_handled(
        self,
        transport: Transport,
        folder: str,
        remote: RemoteFile,
        taking: ReceivedFile,
        entry: dict[str, Any],
    ) -> bool:
        """Rename the file `.handled` once its users are committed; True if that failed.

        A failed rename is said on the file's entry and kept on its ledger row (`mark_error`):
        the next runs rename the file rather than load it again (`_files_left_unmarked`), as
        they do when the process died before the rename (the row's RENAME_PENDING).
        """
        try:
            transport.mark_handled(folder, remote.name)
        except PatronsyncError as exc:
            said = str(exc).rstrip(".")
            message = (
                f"{remote.name}: its users are in, but it could not be renamed "
                f"{remote.name}.handled on the server: {said}. It is not loaded again; each run "
                "tries the rename first"
            )
            self.logger.warning("%s", message)
            entry["problems"] = [
                *entry["problems"],
                {"code": "NOT_MARKED_HANDLED", "message": message},
            ]
            with transaction.atomic():
                self._add_file(entry)
                ReceivedFile.objects.filter(pk=taking.pk).update(mark_error=str(exc))
            return True
        ReceivedFile.objects.filter(pk=taking.pk).update(mark_error="")
        return False

    def _take_file(
        self,
        ctx: RunContext,
        transport: Transport,
        folder: str,
        remote: RemoteFile,
        workdir: Path,
        limit: int,
    ) -> bool:
        """Take one file: record the taking, load its users, mark it handled.

        Returns True if the file had problems. A file whose bytes match an earlier taking is
        loaded all the same; its entry and the log name the file and job it repeats.
        """
        entry: dict[str, Any] = {"name": remote.name, "size": remote.size, "problems": []}
        if remote.size > limit:
            message = (
                f"{remote.name}: {remote.size:,} bytes, over the connection's limit "
                f"of {limit:,}; not taken"
            )
            entry["problems"].append({"code": "FILE_TOO_LARGE", "message": message})
            self.logger.warning("%s", message)
            self._add_file(entry)
            return True
        self._hold()  # at each file boundary: a fetch may take a while
        path = transport.fetch(folder, remote.name, workdir)
        sha256 = _sha256(path)
        entry["sha256"] = sha256
        if self.follower is not None and (remote.name, sha256) not in self.planned_files:
            raise ConfigurationError(
                f"The feed changed since the plan was made: {remote.name} is not the file "
                "planned (other content); nothing more was applied"
            )
        with transaction.atomic():
            self._hold()  # no ledger row for a job that is not this worker's
            taking, skip = (None, 0) if ctx.dry_run else self._record_taking(remote, sha256)
        earlier = self._earlier_taking(sha256, taking)
        if earlier is not None:
            process_id = earlier.job.process_id if earlier.job is not None else ""
            entry["repeats"] = {
                "file": earlier.name,
                "job_id": earlier.job_id,
                "process_id": process_id,
            }
            self.logger.info(
                "%s: same content as %s (job %s, Process ID %s); loaded again",
                remote.name,
                earlier.name,
                earlier.job_id,
                process_id or "-",
            )
        self.taking_id = taking.pk if taking is not None else None
        # The progress total: users done (of a resumed file, the `skip` first) + this file's,
        # as the plan pass read them (an apply pass), or counted.
        in_file = self.planned_files.get((remote.name, sha256))  # set by the apply pass only
        if in_file is None:
            in_file = users_count(path) or 0
        self._hold(users_expected=F("total_records_processed") - skip + in_file)
        if skip:
            self.logger.info("%s: resuming after user %s", remote.name, skip)
        else:
            # Duplicates are judged within one file ("in this feed"): a later zip of the same
            # run may update the users an earlier one touched.
            ctx.touched = TouchedUsers()
        kept = 0  # users the plan kept unchanged, counted once the file's records are in
        if self.keeping is not None:
            self.keeping.start_file()
        if self.apply_from is not None and remote.name in self.apply_from:
            users, problems, kept = self._load_planned(ctx, remote.name, sha256, in_file, skip)
        else:
            users, problems = load_file(ctx, path, remote.name, sha256, skip, self.progress)
        if self.keeping is not None:
            self.keeping.end_file(remote.name, problems)
        if path.is_relative_to(workdir):  # a download (a local file is read in place)
            path.unlink(missing_ok=True)
        entry.update(users=users, problems=problems)
        self.logger.info("%s: %s users read, %s file problems", remote.name, users, len(problems))
        with transaction.atomic():
            self._add_file(entry)  # first: it renews the lease, or stops a worker that lost it
            if kept:
                self._hold(
                    unchanged=F("unchanged") + kept,
                    total_records_processed=F("total_records_processed") + kept,
                )
            if taking is not None:
                ReceivedFile.objects.filter(pk=taking.pk).update(
                    status=FileStatus.FAILED if problems and not users else FileStatus.HANDLED,
                    users=users,
                    handled_at=timezone.now(),
                    mark_error=RENAME_PENDING,  # cleared once the file is renamed `.handled`
                )
        if taking is not None and self._mark_handled(transport, folder, remote, taking, entry):
            return True
        return bool(problems)

    def _load_planned(
        self, ctx: RunContext, name: str, sha256: str, users: int, skip: int
    ) -> tuple[int, list[dict[str, Any]], int]:
        """Apply the plan's records of file `name` alone (`jobs.planned`), after the `skip`
        first; returns the file's users and problems as the plan read them, and the users the
        plan kept unchanged (not read again)."""
        assert self.apply_from is not None
        assert self.follower is not None
        planned = self.apply_from[name]
        follower = self.follower
        batches = planned_batches(
            job_id=self.job.id,
            after=lambda: follower.cursor,
            last_record_id=follower.last_record_id,
            name=name,
            size=pipeline.BATCH_SIZE,
        )
        kept = KeptUsers.load(planned["kept"])
        load_planned(ctx, batches, kept, name, sha256, skip, self.progress)
        return users, list(planned["problems"]), len(kept)

    def _record_taking(self, remote: RemoteFile, sha256: str) -> tuple[ReceivedFile, int]:
        """This job's ledger row for the file, and how many of its users are already in.

        A resumed job finds the row it left `processing` and the position in its checkpoint;
        otherwise a new row is written: every taking of a file has its own.
        """
        job, checkpoint = self.job, self.job.checkpoint
        left = ReceivedFile.objects.filter(
            job=job, sha256=sha256, status=FileStatus.PROCESSING
        ).first()
        if left is not None:
            # (A checkpoint written before takings were recorded in it names only the bytes.)
            if checkpoint.get("file") == sha256 and checkpoint.get("taking", left.pk) == left.pk:
                return left, int(checkpoint.get("position", 0))
            return left, 0  # begun, but no batch of it committed
        taking = ReceivedFile.objects.create(
            institution=job.institution,
            profile_id=job.profile_id,
            job=job,
            name=remote.name,
            sha256=sha256,
            size=remote.size,
            status=FileStatus.PROCESSING,
        )
        return taking, 0

    def _earlier_taking(self, sha256: str, taking: ReceivedFile | None) -> ReceivedFile | None:
        """The profile's last taking of the same bytes before this one, if any."""
        earlier = ReceivedFile.objects.filter(profile_id=self.job.profile_id, sha256=sha256)
        if taking is not None:
            earlier = earlier.exclude(pk=taking.pk)
        return earlier.select_related("job").order_by("-received_at", "-id").first()


def plan_changes(plan: dict[str, Any], listed: dict[str, int], folder: str) -> list[str]:
    """What changed in the folder since `plan` (a guarded job's) was made: its files gone or
    of another size, in words; [] when each planned file is there as it was."""
    where = folder or "(home folder)"
    changes = []
    for planned in plan.get("files", []):
        name = planned["name"]
        if name not in listed:
            changes.append(f"{name} is no longer in {where}")
        elif planned.get("size") is not None and listed[name] != planned["size"]:
            changes.append(f"{name} is now {listed[name]:,} bytes, planned at {planned['size']:,}")
    return changes


def job_run(*, job: Job, progress: Progress | None = None, worker: str | None = None) -> Job:
    """Claim `job` for this process and run (or resume) it to its end; returns it as it ended.

    Raises JobAlreadyRunning when another worker took the job first. A stale job that its
    workers stopped PATRONSYNC_JOB_MAX_ATTEMPTS times is returned errored, not run.
    """
    runner = JobRunner(job, worker=worker, progress=progress)
    if not runner.claim():
        job.refresh_from_db()
        if runner.gave_up:
            return job
        raise JobAlreadyRunning(
            f"{job.title} (Process ID {job.process_id}) is {job.status}; this run is skipped"
        )
    return runner.run()


def jobs_waiting() -> list[Job]:
    """The jobs waiting for a worker, oldest first: the pending jobs, and the running jobs
    whose lease ran out (their worker died or was stopped: they resume from their
    checkpoint)."""
    active = (
        Job.objects.filter(status__in=ACTIVE_STATUSES)
        .select_related("profile", "institution")
        .order_by("created_at", "id")
    )
    return [job for job in active if job.status == JobStatus.PENDING or job.lease_expired]


def jobs_run_pending(
    *,
    worker: str | None = None,
    progress: Progress | None = None,
    stopping: Callable[[], bool] | None = None,
    started: Callable[[Job], None] | None = None,
    ended: Callable[[Job], None] | None = None,
    before_each: Callable[[], None] | None = None,
) -> list[Job]:
    """Run the jobs waiting for a worker, one at a time, oldest first, until none waits that
    this call has not tried; returns them as they ended (a stale job tried too often among
    them, errored without running).

    Each is claimed with one conditional update, so two workers started at once never run the
    same job: the one that loses the claim goes on to the next. `stopping` is asked before each
    job (a worker asked to stop takes no more); `started` and `ended` hear of each job it runs.
    `before_each` is called before each job is chosen (the embedded worker fires the due
    schedules there, so that a slot that came while a long job ran is not missed); the jobs
    it creates run in this call too.
    """
    worker = worker or worker_name()
    done = []
    tried: set[int] = set()
    while True:
        if stopping is not None and stopping():
            break
        if before_each is not None:
            before_each()
        job = next((job for job in jobs_waiting() if job.pk not in tried), None)
        if job is None:
            break
        tried.add(job.pk)
        runner = JobRunner(job, worker=worker, progress=progress, stopping=stopping)
        if runner.claim():
            if started is not None:
                started(runner.job)
            finished = runner.run()
        elif runner.gave_up:
            finished = runner.job
        else:
            continue
        if ended is not None:
            ended(finished)
        done.append(finished)
    return done
