"""kill -9 of a worker in the middle of a job: another worker resumes it from its checkpoint
once its lease (3 s here) has run out, and the job ends as a run never killed, row by row.

The embedded worker, and Celery workers: on Redis the pool process running the job is killed
(its worker hands the message back: reject_on_worker_lost), on RabbitMQ the whole worker (the
broker hands the unacknowledged message to the other worker: acks_late).
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Iterator

import pytest

from .crashlab import LabDatabase, alive, differences, kill_when, wait_for
from .test_celery import workers
from .test_worker import (
    cli,
    drop_feed,
    ended,
    job_row,
    job_start_in,
    lab_with_feed,
    position_of,
    stop,
)

KILLS = 3
SEED = int(time.time())  # the kill points; named in every failure, to replay one
SHORT_LEASE = {"PATRONSYNC_JOB_LEASE_SECONDS": "3"}


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[LabDatabase]:
    yield from lab_with_feed(tmp_path_factory.mktemp("kill"), users=2000, batch_size=20)


@pytest.fixture(scope="module")
def want(lab) -> dict:
    """The end state of the feed's Synchronize run once, from start to end."""
    drop_feed(lab)
    done = cli(lab, "run", "SIS", "--synchronize")
    assert done.stdout, done.stderr
    state = lab.state()
    assert state["jobs"][0][0] == "completed_with_errors"  # the duplicate is rejected
    return state


def resumed_once(lab: LabDatabase, job_id: int, where: str) -> None:
    row = job_row(lab, job_id)
    assert row["attempts"] == 2, where
    assert row["log"].count("resumed after interruption") == 1, f"{where}: {row['log']}"
    assert "Stopped:" not in row["log"], where


def test_a_killed_embedded_worker_s_job_is_resumed_by_the_next_worker(lab, want):
    rng = random.Random(SEED)
    for position in sorted(rng.sample(range(40, 1600), KILLS)):
        where = f"kill past user {position} (seed {SEED})"
        drop_feed(lab)
        job_id = job_start_in(lab)
        first = lab.start("worker", "--interval", "0.2", **SHORT_LEASE)
        readers = kill_when(lab, first, position)
        assert job_row(lab, job_id)["status"] == "running", where
        wait_for(lambda gone=readers: not any(map(alive, gone)), f"{where}: readers")

        # The next worker waits for the lease to run out by itself, then resumes the job.
        second = lab.start("worker", "--interval", "0.2", **SHORT_LEASE)
        wait_for(lambda job=job_id: ended(lab, job), f"{where}: the job to end", poll=0.1)
        out, err = stop(second)
        assert second.returncode == 0, err
        assert "(try 2)" in out, where
        resumed_once(lab, job_id, where)
        assert differences(lab.state(), want) == [], where


@pytest.mark.parametrize("broker", ["redis", "rabbitmq"])
def test_a_killed_celery_worker_s_job_is_redelivered_and_resumed(lab, want, broker, tmp_path):
    position = random.Random(SEED).randrange(40, 1600)
    where = f"{broker}: kill past user {position} (seed {SEED})"
    drop_feed(lab)
    with workers(lab, broker, tmp_path, **SHORT_LEASE) as running:
        one = running.celery("one")
        two = running.celery("two")
        job_id = job_start_in(lab, **running.env)
        wait_for(lambda: position_of(lab, job_id) >= position, f"{where}: position", poll=0.01)
        pool = int(job_row(lab, job_id)["worker"].split("#")[0].rsplit(":", 1)[1])
        if broker == "redis":
            os.kill(pool, signal.SIGKILL)  # the pool process of a worker this test started
        else:
            holder = next(w for w in (one, two) if pool in _descendants(w.pid))
            os.killpg(holder.pid, signal.SIGKILL)  # the worker, with its pool
        try:
            wait_for(lambda: ended(lab, job_id), f"{where}: the job to end", poll=0.1)
        except AssertionError:
            raise AssertionError(f"{where}:\n{running.logs()}") from None
    resumed_once(lab, job_id, where)
    assert differences(lab.state(), want) == [], where


def _descendants(pid: int) -> set[int]:
    """The processes under `pid` (its pool), read from /proc."""
    from .crashlab import children

    found, todo = set(), [pid]
    while todo:
        for child, _ in children(todo.pop()):
            found.add(child)
            todo.append(child)
    return found
