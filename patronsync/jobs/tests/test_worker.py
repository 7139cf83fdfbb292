"""The embedded worker, `patronsync worker`: real worker processes on a database of their own
(see `crashlab`), which run the waiting jobs, give their lease back on SIGTERM, keep it with a
heartbeat while they work, and error a job whose workers stopped too many times.

The helpers here serve the other worker tests too (race, kill, Celery).
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from patronsync.cli import main
from patronsync.feeds.sample import write_sample_feed
from patronsync.jobs.leases import max_attempts
from patronsync.jobs.models import Job, ReceivedFile
from patronsync.jobs.services import job_create
from patronsync.loader.tests.conftest import user_xml, users_doc, write_zip
from patronsync.patrons.models import Patron

from .crashlab import ROOT, WAIT_SECONDS, LabDatabase, differences, wait_for
from .test_claims import held_by
from .test_runner import seven_users

START_JOB = (
    "from patronsync.jobs.services import job_start\n"
    "from patronsync.profiles.models import IntegrationProfile\n"
    "job = job_start(profile=IntegrationProfile.objects.get(code='SIS'), kind='synchronize')\n"
    "{then}"
    "print(f'JOB={{job.id}}')\n"
)


# Helpers of the worker tests.


def lab_with_feed(home: Path, *, users: int, batch_size: int) -> Iterator[LabDatabase]:
    """A lab with an empty user store and, in `lab.feed`, a Synchronize feed of `users` users
    over two files (the second with one duplicate, rejected)."""
    lab = LabDatabase(home, batch_size=batch_size)
    try:
        lab.build_template(lambda lab: None)
        lab.feed.mkdir(parents=True, exist_ok=True)
        write_sample_feed(lab.feed / "a-users.zip", users, seed=5, users_per_file=users // 2)
        extra = [user_xml(f"new{n}", barcode=f"NB{n}") for n in range(20)]
        extra.append(user_xml("new3", last="Duplicate"))
        write_zip(lab.feed / "b-new.zip", {"new.xml": users_doc(*extra)})
        yield lab
    finally:
        lab.drop_all()


def drop_feed(lab: LabDatabase) -> None:
    """Start again from the template, with the feed in the profile's folder."""
    lab.reset()
    for path in lab.feed.iterdir():
        shutil.copyfile(path, lab.drop / "synchronize" / path.name)


def drop_users(lab: LabDatabase, name: str, count: int) -> None:
    users = [user_xml(f"{Path(name).stem}-{n}", barcode=f"{name}-{n}") for n in range(count)]
    write_zip(lab.drop / "synchronize" / name, {"users.xml": users_doc(*users)})


def job_start_in(lab: LabDatabase, *, then: str = "", **env: str) -> int:
    """Start a Synchronize of profile SIS through `job_start`, in a process of its own (as the
    API would); `then` is more code to run after it. Returns the job's id."""
    done = lab.patronsync("shell", "-c", START_JOB.format(then=then), **env)
    found = re.search(r"JOB=(\d+)", done.stdout)
    assert found, f"no job started:\n{done.stdout}\n{done.stderr}"
    return int(found.group(1))


def cli(lab: LabDatabase, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `patronsync ARGS` to its end, whatever its exit code."""
    process = lab.start(*args, **env)
    out, err = process.communicate(timeout=WAIT_SECONDS)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


STARTER = """
import sys
import django
django.setup()
from patronsync.jobs.services import job_start
from patronsync.profiles.models import IntegrationProfile
for line in sys.stdin:
    job = job_start(profile=IntegrationProfile.objects.get(code="SIS"), kind="synchronize")
    if line.strip() == "twice":
        from patronsync.jobs.tasks import run_job_task
        run_job_task.delay(job.id)
    print(f"JOB={job.id}", flush=True)
"""


class JobStarter:
    """One process that starts a job through `job_start` each time it is asked (as the web
    server does, one request after another), sending it a second time with `twice`."""

    def __init__(self, lab: LabDatabase, **env: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", STARTER],
            cwd=ROOT,
            env=lab.env(**env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def start(self, *, twice: bool = False) -> int:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write("twice\n" if twice else "once\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line.startswith("JOB="), f"no job started: {line!r}"
        return int(line[4:])

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=WAIT_SECONDS)


def job_row(lab: LabDatabase, job_id: int) -> dict[str, Any]:
    return lab.rows("SELECT * FROM jobs_job WHERE id = %s", [job_id])[0]


def as_utc(value: Any) -> datetime:
    """A time column as either driver returns it, as an aware datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def position_of(lab: LabDatabase, job_id: int) -> int:
    checkpoint = job_row(lab, job_id)["checkpoint"]
    if isinstance(checkpoint, str):
        import json

        checkpoint = json.loads(checkpoint or "{}")
    return int(checkpoint.get("position", 0))


def ended(lab: LabDatabase, job_id: int) -> dict[str, Any] | None:
    row = job_row(lab, job_id)
    return row if row["status"] not in ("pending", "running") else None


def stop(process: subprocess.Popen[str], signum: int = signal.SIGTERM) -> tuple[str, str]:
    """Send `signum` to a worker this test started and wait for it to end."""
    if process.poll() is None:
        process.send_signal(signum)
    return process.communicate(timeout=WAIT_SECONDS)


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[LabDatabase]:
    """2,000 users in batches of 20, for jobs that take a while."""
    yield from lab_with_feed(tmp_path_factory.mktemp("worker"), users=2000, batch_size=20)


# The tests.


def test_worker_once_runs_a_pending_job_and_prints_a_line_as_it_starts_and_ends(lab):
    lab.reset()
    drop_users(lab, "seven.zip", 7)
    job_id = job_start_in(lab)
    assert job_row(lab, job_id)["status"] == "pending"

    done = lab.patronsync("worker", "--once")
    assert done.returncode == 0
    row = job_row(lab, job_id)
    assert (row["status"], row["created"], row["attempts"]) == ("completed", 7, 1)
    started, finished = done.stdout.splitlines()
    assert started.startswith(f"Job {job_id} (Process ID {row['process_id']}) Users SYNCHRONIZE")
    assert ": started on " in started
    assert finished.endswith("completed (created 7, updated 0, unchanged 0, rejected 0)")

    again = lab.patronsync("worker", "--once")  # nothing waits: it says nothing (cron mails)
    assert (again.returncode, again.stdout) == (0, "")


@pytest.fixture(scope="module")
def want(lab) -> dict:
    """The end state of the lab's feed run once, from start to end."""
    drop_feed(lab)
    uninterrupted = cli(lab, "run", "SIS", "--synchronize")
    assert uninterrupted.stdout, uninterrupted.stderr  # its report
    state = lab.state()
    assert state["jobs"][0][0] == "completed_with_errors"  # the duplicate is rejected
    return state


def test_the_worker_takes_a_job_started_after_it_and_gives_its_lease_back_on_sigterm(lab, want):
    """The loop runs a job the API starts while it waits; SIGTERM stops it after the batch it
    commits, the lease and the try given back; the next worker resumes at once, and the end
    is that of a run never stopped, row by row."""
    drop_feed(lab)
    worker = lab.start("worker", "--interval", "0.2")
    assert worker.stdout is not None
    assert worker.stdout.readline().endswith("every 0.2 s\n")  # up, and waiting
    job_id = job_start_in(lab)
    wait_for(lambda: position_of(lab, job_id) >= 100, "the worker to take the job")
    out, err = stop(worker)

    assert worker.returncode == 0, err
    row = job_row(lab, job_id)
    assert row["status"] == "running"
    assert as_utc(row["lease_until"]) <= timezone.now(), f"{out}\n{err}\n{row['log']}"
    assert row["attempts"] == 0  # a stop is not one of the deaths max attempts counts
    assert "Worker stopped; the job waits for the next worker" in row["log"]
    assert f"Job {job_id} " in out
    assert "stopped; the next worker resumes it" in out
    assert out.rstrip().endswith("stopped (SIGTERM)")

    resumed = lab.patronsync("worker", "--once")  # at once: no lease to wait for
    assert f"Job {job_id} " in resumed.stdout
    row = job_row(lab, job_id)
    assert row["status"] == "completed_with_errors"  # the duplicate
    assert row["log"].count("resumed after interruption") == 1
    assert differences(lab.state(), want) == []


HEARTBEAT_RUNNER = """
import sys, time
import django
django.setup()
from patronsync.jobs.models import Job
from patronsync.jobs.runner import JobRunner
runner = JobRunner(Job.objects.get(pk=int(sys.argv[1])), progress=lambda n: time.sleep(4))
assert runner.claim()
print(runner.run().status, flush=True)
"""


def test_the_heartbeat_keeps_the_lease_of_a_worker_that_works_slowly(lab):
    """A lease of 2 s, batches 4 s apart: without its heartbeat the job would be free after each
    batch; with it, the workers that come meanwhile find nothing to take."""
    lab.reset()
    drop_users(lab, "slow.zip", 50)  # batches of 20: three, each followed by 4 s of nothing
    job_id = job_start_in(lab)
    short = {"PATRONSYNC_JOB_LEASE_SECONDS": "2"}
    slow = subprocess.Popen(
        [sys.executable, "-c", HEARTBEAT_RUNNER, str(job_id)],
        cwd=ROOT,
        env=lab.env(**short),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(lambda: position_of(lab, job_id) >= 20, "the first batch")
    others = []
    while slow.poll() is None:
        others.append(lab.patronsync("worker", "--once", **short))
    out, err = slow.communicate()
    assert out.strip() == "completed", err
    assert others, "no other worker came while the job ran"
    assert [other.stdout for other in others] == [""] * len(others)
    row = job_row(lab, job_id)
    assert (row["created"], row["attempts"]) == (50, 1)
    assert "resumed after interruption" not in row["log"]
    assert "Stopped:" not in row["log"]


# Tries: a job whose workers keep dying is errored (in this process: no subprocess needed).


@pytest.mark.django_db
def test_a_stale_job_tried_max_attempts_times_is_errored_by_the_next_worker(profile, drop, capsys):
    seven_users(drop)
    job = job_create(profile=profile, kind="synchronize")
    held_by(job, "host-x:41#abcd", lease_until=timezone.now())
    Job.objects.filter(pk=job.pk).update(attempts=3)
    ReceivedFile.objects.create(
        institution=job.institution,
        profile=profile,
        job=job,
        name="feed.zip",
        sha256="0" * 64,
        size=1,
        status="processing",
    )

    assert main(["worker", "--once"]) == 0
    job.refresh_from_db()
    assert job.status == "errored"
    assert job.finished_at is not None
    assert "its workers stopped 3 times" in job.log
    assert "last worker host-x:41#abcd" in job.log
    assert ReceivedFile.objects.get().status == "failed"
    assert not Patron.objects.exists()  # not run again
    [line] = capsys.readouterr().out.splitlines()
    assert line.startswith(f"Job {job.id} ")
    assert ": errored (" in line
    assert main(["worker", "--once"]) == 0  # and nobody tries it again
    assert capsys.readouterr().out == ""


@pytest.mark.django_db
def test_a_stale_job_below_max_attempts_is_resumed_and_counts_its_try(profile, drop):
    seven_users(drop)
    job = job_create(profile=profile, kind="synchronize")
    held_by(job, "host-x:41#abcd", lease_until=timezone.now())
    Job.objects.filter(pk=job.pk).update(attempts=2)
    assert main(["worker", "--once"]) == 0
    job.refresh_from_db()
    assert (job.status, job.created, job.attempts) == ("completed", 7, 3)
    assert "resumed after interruption" in job.log


@pytest.mark.django_db
def test_max_attempts_comes_from_the_environment(profile, drop, monkeypatch):
    monkeypatch.setenv("PATRONSYNC_JOB_MAX_ATTEMPTS", "1")
    seven_users(drop)
    job = job_create(profile=profile, kind="synchronize")
    held_by(job, "host-y:7#ef01", lease_until=timezone.now())
    Job.objects.filter(pk=job.pk).update(attempts=1)
    assert main(["worker", "--once"]) == 0
    job.refresh_from_db()
    assert job.status == "errored"
    assert "its workers stopped 1 time (PATRONSYNC_JOB_MAX_ATTEMPTS is 1)" in job.log


@pytest.mark.parametrize("value", ["0", "-1", "three"])
def test_a_max_attempts_that_is_not_a_whole_number_is_refused(monkeypatch, value):
    monkeypatch.setenv("PATRONSYNC_JOB_MAX_ATTEMPTS", value)
    with pytest.raises(ImproperlyConfigured, match="PATRONSYNC_JOB_MAX_ATTEMPTS"):
        max_attempts()


def test_the_celery_worker_refuses_to_start_without_a_broker(lab):
    done = lab.start("worker", "--celery")
    _, err = done.communicate(timeout=WAIT_SECONDS)
    assert done.returncode == 2
    assert "PATRONSYNC_BROKER_URL is not set" in err
    assert "Traceback" not in err
