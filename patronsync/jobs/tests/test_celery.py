"""Celery, against the real Redis (127.0.0.1:6379) and RabbitMQ (127.0.0.1:5672) of this
machine: real `celery -A config worker` (and `patronsync worker --celery`) processes, on a
database of their own (`crashlab`: a SQLite file, or PostgreSQL), run the jobs `job_start`
sends; two workers sent the same job twice run it once; beat fires the schedules.

Each test run has its own queue (and, on Redis, its own database number), so runs at the same
time, on CI or beside a developer's, never take each other's messages.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from patronsync.jobs.models import Job
from patronsync.jobs.services import job_create
from patronsync.jobs.tasks import run_job_task
from patronsync.jobs.worker import job_sent_record, jobs_to_send

from .crashlab import ROOT, WAIT_SECONDS, LabDatabase, wait_for
from .test_worker import JobStarter, drop_users, ended, job_start_in
from .test_worker_race import RACE_TRIES, ran_once

RUN = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
QUEUE = f"patronsync-test-{RUN}"
REDIS_DB = 1 + os.getpid() % 15  # 0 is the default of other programs
BROKERS = {
    "redis": f"redis://127.0.0.1:6379/{REDIS_DB}",
    "rabbitmq": "amqp://guest:guest@127.0.0.1:5672//",
}


class Workers:
    """Celery worker processes started by a test, on one broker and this run's queue."""

    def __init__(self, lab: LabDatabase, broker: str, home: Path, **env: str) -> None:
        self.lab = lab
        self.env = {
            "PATRONSYNC_BROKER_URL": BROKERS[broker],
            "PATRONSYNC_CELERY_QUEUE": QUEUE,
            **env,
        }
        self.home = home
        self.processes: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(self, name: str, command: list[str]) -> subprocess.Popen[bytes]:
        log = self.home / f"{name}-{len(self.processes)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [*command, "--concurrency", "1", "--loglevel", "INFO"],
                cwd=ROOT,
                env=self.lab.env(**self.env),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its pool's processes go with it at the end
            )
        self.processes.append((process, log))
        wait_for(lambda: self.ready(process, log), f"Celery worker {name} to be ready", poll=0.1)
        return process

    def celery(self, name: str) -> subprocess.Popen[bytes]:
        """`celery -A config worker`, as the docs tell."""
        command = [sys.executable, "-m", "celery", "-A", "config", "worker", "-n", f"{name}@%h"]
        return self.start(name, command)

    def patronsync(self, name: str) -> subprocess.Popen[bytes]:
        """`patronsync worker --celery`, as the docs tell too."""
        command = [sys.executable, "-m", "patronsync.cli", "worker", "--celery"]
        return self.start(name, command)

    def ready(self, process: subprocess.Popen[bytes], log: Path) -> bool:
        if process.poll() is not None:
            raise AssertionError(f"the Celery worker ended:\n{log.read_text()}")
        return " ready." in log.read_text()

    def logs(self) -> str:
        return "\n".join(log.read_text() for _, log in self.processes)

    def stop(self) -> None:
        for process, _ in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=WAIT_SECONDS)


@contextmanager
def workers(lab: LabDatabase, broker: str, home: Path, **env: str) -> Iterator[Workers]:
    running = Workers(lab, broker, home, **env)
    try:
        yield running
    finally:
        running.stop()
        queue_delete(broker)


def queue_delete(broker: str) -> None:
    """Leave the broker as it was: this run's queue goes, with what is left in it."""
    from kombu import Connection

    with Connection(BROKERS[broker]) as conn, suppress(Exception):  # never declared: none
        conn.default_channel.queue_delete(QUEUE)


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[LabDatabase]:
    lab = LabDatabase(tmp_path_factory.mktemp("celery"), batch_size=2)
    try:
        lab.build_template(lambda lab: None)
        yield lab
    finally:
        lab.drop_all()


def wait_ended(lab: LabDatabase, job_id: int, running: Workers) -> dict:
    try:
        return wait_for(lambda: ended(lab, job_id), f"job {job_id} to end", poll=0.1)
    except AssertionError:
        raise AssertionError(f"job {job_id} never ended:\n{running.logs()}") from None


@pytest.mark.parametrize("broker", ["redis", "rabbitmq"])
def test_a_job_started_through_job_start_runs_on_a_celery_worker(lab, broker, tmp_path):
    lab.reset()
    drop_users(lab, "seven.zip", 7)
    with workers(lab, broker, tmp_path) as running:
        # Both ways of starting a worker: Celery's command, and patronsync's.
        process = running.celery("one") if broker == "redis" else running.patronsync("one")
        job_id = job_start_in(lab, **running.env)  # sent once committed
        row = wait_ended(lab, job_id, running)
    assert (row["status"], row["created"], row["attempts"]) == ("completed", 7, 1), row["log"]
    # It ran in the worker's pool process, not in the process that started it.
    pool = int(row["worker"].split("#")[0].rsplit(":", 1)[1])
    assert pool != process.pid
    assert "Finished: Completed successfully" in row["log"]


@pytest.mark.parametrize("broker", ["redis", "rabbitmq"])
def test_two_celery_workers_sent_the_same_job_twice_run_it_once(lab, broker, tmp_path):
    """RACE_TRIES times: `job_start` sends the job, and it is sent again at once; two workers
    take a message each, one claim wins, the other task does nothing: it finds the job held
    by a live worker, or ended, and returns without asking again."""
    lab.reset()
    with workers(lab, broker, tmp_path, PATRONSYNC_JOB_LEASE_SECONDS="3") as running:
        running.celery("one")
        running.celery("two")
        starter = JobStarter(lab, **running.env)
        for attempt in range(RACE_TRIES):
            drop_users(lab, f"try{attempt}.zip", 5)
            job_id = starter.start(twice=True)
            wait_ended(lab, job_id, running)
            ran_once(lab, job_id, 5, f"{broker}, try {attempt}")
        starter.close()
        logs = running.logs()
    # Both workers had their share of the messages.
    assert logs.count("patronsync.jobs.run_job") >= 2 * RACE_TRIES
    assert "Traceback" not in logs


def test_beat_fires_a_due_schedule_and_a_worker_runs_its_job(lab, tmp_path):
    """`celery -A config beat -S django` makes its periodic task ("patronsync: fire due
    schedules"), which fires the profile's cron (its slot of the last five minutes); a worker
    runs the job."""
    lab.reset()
    drop_users(lab, "seven.zip", 7)
    lab.patronsync(
        "shell",
        "-c",
        "from datetime import timedelta\n"
        "from django.utils import timezone\n"
        "from patronsync.profiles.models import IntegrationProfile\n"
        "IntegrationProfile.objects.filter(code='SIS').update(\n"
        "    sync_schedule='CRON', sync_cron='*/5 * * * *',\n"
        "    schedule_changed_at=timezone.now() - timedelta(minutes=30),\n"  # before its slot
        ")\n",
    )
    with workers(lab, "redis", tmp_path) as running:
        running.celery("one")
        beat = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "beat", "-S", "django",
             "--loglevel", "INFO", "--schedule", str(tmp_path / "beat.db")],
            cwd=ROOT,
            env=lab.env(**running.env),
            stdout=(tmp_path / "beat.log").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        running.processes.append((beat, tmp_path / "beat.log"))
        try:
            row = wait_for(
                lambda: next((j for j in lab.jobs() if j["status"] == "completed"), None),
                "the scheduled job to run",
                poll=0.5,
            )
        except AssertionError:
            raise AssertionError(running.logs()) from None
        tasks = lab.rows("SELECT name, task FROM django_celery_beat_periodictask")
    assert row["trigger"] == "schedule"
    assert row["created"] == 7
    assert {"name": "patronsync: fire due schedules", "task": "patronsync.jobs.fire_schedules"} in [
        dict(task) for task in tasks
    ]


def test_a_periodic_task_made_twice_is_made_once(lab):
    lab.reset()
    code = (
        "from patronsync.jobs.worker import schedule_task_ensure\n"
        "print(schedule_task_ensure(), schedule_task_ensure())\n"
    )
    done = lab.patronsync("shell", "-c", code)
    assert done.stdout.split()[-2:] == ["True", "False"]
    count = lab.rows("SELECT COUNT(*) AS n FROM django_celery_beat_periodictask WHERE task = %s",
                     ["patronsync.jobs.fire_schedules"])  # fmt: skip
    assert count[0]["n"] == 1


# The task and the sweep in this process, on the test database (no broker needed).


def held(job: Job) -> Job:
    """`job` as a live worker holds it: running, with a lease that has not run out."""
    Job.objects.filter(pk=job.pk).update(
        status="running", worker="other-host:1", lease_until=timezone.now() + timedelta(minutes=5)
    )
    return Job.objects.get(pk=job.pk)


@pytest.mark.django_db
def test_a_duplicate_message_for_a_job_a_live_worker_holds_does_nothing(profile):
    """No retry, no second run: the message is done (before, it came back every lease period
    until the job ended)."""
    job = held(job_create(profile=profile, kind="synchronize"))
    result = run_job_task.apply(args=(job.pk,))
    assert result.successful()
    assert result.result == "held by another worker"
    after = Job.objects.get(pk=job.pk)
    assert (after.status, after.worker, after.attempts) == ("running", "other-host:1", 0)


@pytest.mark.django_db
def test_a_message_for_an_ended_job_does_nothing(profile):
    job = job_create(profile=profile, kind="synchronize")
    Job.objects.filter(pk=job.pk).update(status="completed")
    result = run_job_task.apply(args=(job.pk,))
    assert (result.successful(), result.result) == (True, "not claimed")


@pytest.mark.django_db
def test_the_sweep_sends_a_pending_job_again_only_when_its_send_was_not_recorded(profile):
    """Ten minutes after it was created, a job whose message waits behind busy workers is not
    sent again; a job whose send failed (none recorded) is, and so is one sent an hour ago."""
    waiting = job_create(profile=profile, kind="synchronize")
    job_sent_record(job_id=waiting.pk)
    later = timezone.now() + timedelta(minutes=10)
    assert jobs_to_send(created=[], now=later) == []
    Job.objects.filter(pk=waiting.pk).update(checkpoint={})  # its send failed
    assert jobs_to_send(created=[], now=later) == [waiting.pk]
    job_sent_record(job_id=waiting.pk)
    assert jobs_to_send(created=[], now=timezone.now() + timedelta(minutes=61)) == [waiting.pk]
    # A running job whose lease ran out is sent, its worker is gone; a held one is not.
    Job.objects.filter(pk=waiting.pk).update(
        status="running", lease_until=timezone.now() - timedelta(seconds=1)
    )
    assert jobs_to_send(created=[], now=later) == [waiting.pk]
    held(waiting)
    assert jobs_to_send(created=[], now=later) == []


@pytest.mark.django_db
def test_a_send_recorded_once_the_job_was_claimed_leaves_its_checkpoint(profile):
    job = held(job_create(profile=profile, kind="synchronize"))
    Job.objects.filter(pk=job.pk).update(checkpoint={"file": "abc", "position": 4})
    job_sent_record(job_id=job.pk)
    assert Job.objects.get(pk=job.pk).checkpoint == {"file": "abc", "position": 4}
