"""Two embedded workers race for one profile's job, RACE_TRIES times: each time one claim wins,
the job runs once, and the other worker does nothing (the Celery race is in test_celery)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .crashlab import WAIT_SECONDS, LabDatabase
from .test_worker import JobStarter, drop_users, job_row

RACE_TRIES = 20


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[LabDatabase]:
    lab = LabDatabase(tmp_path_factory.mktemp("race"), batch_size=2)
    try:
        lab.build_template(lambda lab: None)
        yield lab
    finally:
        lab.drop_all()


def ran_once(lab: LabDatabase, job_id: int, users: int, where: str) -> None:
    """The job ended as one run leaves it: one claim, one start line, every user once."""
    row = job_row(lab, job_id)
    assert row["status"] == "completed", f"{where}: {row['log']}"
    assert row["attempts"] == 1, where
    assert row["total_records_processed"] == users, where
    assert row["log"].count(" started (live)") == 1, where
    assert "resumed after interruption" not in row["log"], where
    assert "Stopped:" not in row["log"], where


def test_two_workers_started_together_run_a_pending_job_once(lab):
    lab.reset()
    starter = JobStarter(lab)
    for attempt in range(RACE_TRIES):
        where = f"try {attempt}"
        drop_users(lab, f"try{attempt}.zip", 5)  # batches of 2: the job takes three commits
        job_id = starter.start()
        racers = [lab.start("worker", "--once") for _ in range(2)]
        outputs = [racer.communicate(timeout=WAIT_SECONDS) for racer in racers]
        assert [racer.returncode for racer in racers] == [0, 0], f"{where}: {outputs}"
        ran_once(lab, job_id, 5, where)
        # One worker printed the job's two lines; the other claimed nothing and said nothing.
        printed = sorted(out.count(f"Job {job_id} ") for out, _ in outputs)
        assert printed == [0, 2], f"{where}: {outputs}"
    starter.close()
