"""`patronsync worker`: the embedded worker, with no broker, on SQLite or PostgreSQL.

The `Job` table is the queue. Every `--interval` seconds the worker runs the jobs waiting
(pending, and running jobs whose lease ran out), oldest first, one at a time, and fires the
schedules that are due (`scheduler.schedules_fire`) before each of them; each job is claimed
with one conditional update, so any number of workers, on any number of hosts, never run
the same job. With a broker the same claim is made by the Celery task (`jobs.tasks`), and
this module also sends the jobs.

A worker asked to stop (SIGTERM, SIGINT) takes no more jobs. The job it runs stops after the
batch it is committing (at once when it is not committing one: a download, a wait), gives its
lease back and its try, and the next worker resumes it from its checkpoint at once. A second
signal stops it at once, wherever it is: the batch then rolls back, as after a kill.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from types import FrameType
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection, connections
from django.utils import timezone

from .choices import ACTIVE_STATUSES, JobStatus
from .leases import WorkerStopping
from .models import Job
from .runner import JobRunner, jobs_run_pending, jobs_waiting, worker_name
from .scheduler import schedules_fire

logger = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
PERIODIC_TASK_NAME = "patronsync: fire due schedules"
FIRE_TASK = "patronsync.jobs.fire_schedules"


class StopSignals:
    """SIGTERM and SIGINT, turned into a stop at the next safe point of this process.

    The first signal only asks: the handler raises nothing, since an exception raised from a
    signal handler may land anywhere, in the middle of a COMMIT too. The worker takes no more
    jobs, and the job it runs stops at its next safe point: right after the batch it commits
    (`check`, which the runner calls after each batch), or at the next file boundary (the
    runner asks `requested` there). Its lease and its try are then given back.

    A second signal stops the process at once: the lease is given back from a connection of
    its own (the process's may be in the middle of a query), and the process exits with code
    1; the batch in progress rolls back, as after a kill. A process forked from this one (the
    file's reading process) ignores the signals: its parent decides when it stops.
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.count = 0
        self.reason = ""
        self.current: Job | None = None  # the job claimed last, while it runs
        self.previous: dict[int, Any] = {}

    def install(self) -> None:
        for signum in STOP_SIGNALS:
            self.previous[signum] = signal.signal(signum, self._on_signal)

    def restore(self) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)

    def requested(self) -> bool:
        return self.count > 0

    def check(self, done: int = 0) -> None:
        """Called after each committed batch: stop here if a stop was asked."""
        if self.count:
            raise WorkerStopping(self.reason)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if os.getpid() != self.pid:
            return
        self.count += 1
        self.reason = signal.Signals(signum).name
        if self.count == 1:
            return
        job = self.current
        if job is not None:
            giving = threading.Thread(target=_lease_give_back, args=(job,), kwargs={"own": True})
            giving.start()
            giving.join(timeout=10)
        print(f"Worker {worker_name()} stopped at once ({self.reason} twice)", flush=True)
        os._exit(1)

    def sleep(self, seconds: float) -> None:
        """Wait between two passes; a signal cuts the wait short."""
        deadline = time.monotonic() + seconds
        while not self.count and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, 0.2))


def job_line(job: Job, what: str) -> str:
    """The one plain line a worker prints when it starts or ends a job."""
    return f"Job {job.id} (Process ID {job.process_id}) {job.title}: {what}"


def _ended(job: Job) -> str:
    counts = (
        f"created {job.created}, updated {job.updated}, unchanged {job.unchanged}, "
        f"rejected {job.rejected}"
    )
    if job.status == JobStatus.RUNNING:  # taken over by another worker, or stopped
        return f"left to {job.worker or 'the next worker'} ({counts})"
    return f"{job.status} ({counts})"


def worker_pass(
    *,
    worker: str,
    say: Callable[[str], None],
    stops: StopSignals | None = None,
    clock: Callable[[], datetime] | None = None,
) -> list[Job]:
    """One pass of the embedded worker: run what waits, firing the due schedules before each
    job (and once when none waits), so that a slot that comes while a long job runs fires
    when that job ends, not at the next pass, which may be past its grace period. `clock`
    gives the scheduler's time (injected by the tests; the current time by default)."""

    def fire() -> None:
        for job in schedules_fire(now=clock() if clock is not None else None):
            say(job_line(job, f"scheduled for {job.scheduled_for:%Y-%m-%d %H:%M} UTC"))

    def started(job: Job) -> None:
        if stops is not None:
            stops.current = job
        try_no = f" (try {job.attempts})" if job.attempts > 1 else ""
        say(job_line(job, f"started on {worker}{try_no}"))

    def ended(job: Job) -> None:
        if stops is not None:
            stops.current = None
        say(job_line(job, _ended(job)))

    return jobs_run_pending(
        worker=worker,
        progress=stops.check if stops is not None else None,
        stopping=stops.requested if stops is not None else None,
        started=started,
        ended=ended,
        before_each=fire,
    )


class DailyHistoryPrune:
    """The embedded worker's daily removal of the users' history past its retention
    (PATRONSYNC_HISTORY_RETENTION_DAYS; 0 keeps it forever, and nothing runs)."""

    def __init__(self) -> None:
        self.last: datetime | None = None

    def __call__(self, say: Callable[[str], None]) -> None:
        from patronsync.patrons.audit import history_prune, history_retention_days

        days = history_retention_days()
        now = timezone.now()
        if not days or (self.last is not None and now - self.last < timedelta(days=1)):
            return
        self.last = now
        removed = history_prune(days=days, now=now)
        if removed:
            noun = "change" if removed == 1 else "changes"
            say(f"Removed {removed:,} {noun} older than {days} days from the users' history")


def worker_run(
    *, once: bool, interval: float | None = None, say: Callable[[str], None] = print
) -> int:
    """The embedded worker: passes every `interval` seconds (PATRONSYNC_WORKER_INTERVAL),
    or one pass with `once`; returns the exit code (0, or 1 when a pass of `once` failed).

    A pass that fails (the database restarting, say) is logged and the loop goes on: a
    worker under systemd should outlive a database restart.
    """
    interval = float(interval or settings.PATRONSYNC_WORKER_INTERVAL)
    worker = worker_name()
    stops = StopSignals()
    stops.install()
    # Once (from cron), the worker says nothing unless it runs a job: cron mails what it prints.
    if not once:
        say(f"Worker {worker} started, every {interval:g} s")
    prune = DailyHistoryPrune()
    try:
        first = True
        while not stops.requested():
            if not first and not connection.in_atomic_block:
                # As after a web request: a connection the database dropped is opened again.
                close_old_connections()
            first = False
            try:
                worker_pass(worker=worker, say=say, stops=stops)
                if not once:  # `--once` from cron: cron runs `patronsync history prune`
                    prune(say)
            except WorkerStopping:
                raise
            except Exception:
                if once:
                    raise
                logger.exception("worker %s: this pass failed; next pass in %g s", worker, interval)
            if once:
                break
            stops.sleep(interval)
    except WorkerStopping as exc:
        if (job := stops.current) is not None:
            _lease_give_back(job)
            say(job_line(job, "stopped; the next worker resumes it"))
        say(f"Worker {worker} stopped ({stops.reason or exc})")
        return 0
    finally:
        stops.restore()
    if not once:
        say(f"Worker {worker} stopped" + (f" ({stops.reason})" if stops.reason else ""))
    return 0


def _lease_give_back(job: Job, *, own: bool = False) -> None:
    """Give the lease of a job this worker claimed back, if the runner could not; with `own`,
    from a thread and its own connection, closed after."""
    try:
        Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, worker=job.worker).update(
            lease_until=timezone.now()
        )
    except Exception:
        logger.warning("job %s: lease not given back; it runs out by itself", job.pk)
    finally:
        if own:
            connections.close_all()


# With a broker: sending jobs to Celery workers.


# A pending job's checkpoint holds when its message was last sent (the runner's checkpoint
# replaces it once a worker claims the job): the sweep sends a job again only when no send was
# recorded (it failed: the broker was down), or long after the last one (a broker that lost
# its messages), never because its message waits behind busy workers.
SENT_KEY = "sent_at"
UNSENT_AFTER = timedelta(minutes=1)  # a job just created may be about to be sent
RESEND_AFTER = timedelta(hours=1)


def job_send(*, job_id: int) -> None:
    """Send the job's id to the Celery workers (the only thing a message carries), and record
    the time on the job while it is pending.

    A broker that cannot be reached leaves the job pending with no send recorded: the sweep of
    the schedule task sends it again (`jobs_send_waiting`), and it is logged here.
    """
    from .tasks import run_job_task  # imports Celery's app: only with a broker

    try:
        run_job_task.delay(job_id)
    except Exception as exc:
        logger.error("job %s: not sent to the broker (%s); the next sweep sends it", job_id, exc)
        return
    job_sent_record(job_id=job_id)


def job_sent_record(*, job_id: int) -> None:
    """Record that the pending job's message was sent now; a job claimed meanwhile is left as
    it is (the conditional update writes nothing)."""
    pending = Job.objects.filter(pk=job_id, status=JobStatus.PENDING)
    checkpoint = pending.values_list("checkpoint", flat=True).first()
    if checkpoint is None:
        return
    sent = {**(checkpoint or {}), SENT_KEY: timezone.now().isoformat()}
    pending.update(checkpoint=sent)


def _send_due(job: Job, now: datetime) -> bool:
    """Whether the sweep sends a pending job: no send recorded for a minute, or the last one
    is an hour old."""
    sent = job.checkpoint.get(SENT_KEY) if isinstance(job.checkpoint, dict) else None
    if not sent:
        return job.created_at <= now - UNSENT_AFTER
    try:
        return datetime.fromisoformat(str(sent)) <= now - RESEND_AFTER
    except ValueError:
        return True


def jobs_to_send(*, created: list[Job], now: datetime | None = None) -> list[int]:
    """The ids the sweep sends: the jobs the schedules created, the pending jobs whose send
    failed (or is an hour old), and the running jobs whose lease ran out (their worker died
    without the broker redelivering its message)."""
    now = now or timezone.now()
    ids = [job.id for job in created]
    for job in jobs_waiting():
        if job.id in ids or (job.status == JobStatus.PENDING and not _send_due(job, now)):
            continue
        ids.append(job.id)
    return ids


def jobs_send_waiting(*, created: list[Job]) -> list[int]:
    """Send the jobs `jobs_to_send` names. A job sent twice is claimed once; the other task
    does nothing."""
    ids = jobs_to_send(created=created)
    for job_id in ids:
        job_send(job_id=job_id)
    return ids


def job_take(*, job_id: int, worker: str | None = None) -> tuple[Job | None, float | None]:
    """Claim and run the job, if it waits: the Celery task's work. Returns the job as it ended
    (None when it is gone or not claimed) and, when a live lease holds the job, the seconds
    after which it runs out (the task asks again then only for a redelivered message: its
    worker may have just died).

    Losing the claim is normal: the same job may be sent twice (by `job_start` and a sweep),
    and two tasks race for it like two embedded workers. One conditional update wins.
    """
    job = Job.objects.filter(pk=job_id).select_related("profile", "institution").first()
    if job is None or job.status not in ACTIVE_STATUSES:
        return None, None
    runner = JobRunner(job, worker=worker)
    if runner.claim():
        logger.info("%s", job_line(runner.job, f"started on {runner.worker}"))
        done = runner.run()
        logger.info("%s", job_line(done, _ended(done)))
        return done, None
    if runner.gave_up:
        return runner.job, None
    job.refresh_from_db()
    if job.status == JobStatus.RUNNING and job.lease_until is not None:
        return None, max((job.lease_until - timezone.now()).total_seconds(), 0) + 1
    return None, None


def schedule_task_ensure() -> bool:
    """Create celery beat's periodic task that fires the due schedules every minute, or put it
    back as it should be; True when something was written. Idempotent: beat calls it at every
    start (config/celery.py)."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.MINUTES)
    wanted = {"task": FIRE_TASK, "interval": every, "enabled": True, "crontab": None}
    task = PeriodicTask.objects.filter(name=PERIODIC_TASK_NAME).first()
    if task is None:
        # As if it last ran a minute ago: a new installation fires what is due at once.
        last = timezone.now() - timedelta(minutes=1)
        PeriodicTask.objects.create(name=PERIODIC_TASK_NAME, last_run_at=last, **wanted)
        return True
    if all(getattr(task, key) == value for key, value in wanted.items()):
        return False
    for key, value in wanted.items():
        setattr(task, key, value)
    task.save()
    return True
