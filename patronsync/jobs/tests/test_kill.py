"""kill -9 of a real `patronsync run`, then runs started together: one claim, one run, and the
same end state as a run that never stopped; the reading process dies with the killed job.

Each try starts from a copy of a template database (see `crashlab`): users loaded the day
before, then a Synchronize of the next day's feed (changed, added, unchanged and rejected
users, over two files), killed with SIGKILL once its checkpoint has passed a chosen position.
"""

from __future__ import annotations

import random
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from patronsync.feeds.sample import write_sample_feed
from patronsync.loader.tests.conftest import user_xml, users_doc, write_zip

from .crashlab import LabDatabase, alive, differences, kill_when, wait_for

RACE_TRIES = 20
SWEEP_KILLS = 5
SEED = int(time.time())  # the kill points; named in every failure, to replay one


def day_one(lab: LabDatabase, users: int, seed: int) -> None:
    """Load the first day's users, as the template's starting point."""
    write_sample_feed(lab.drop / "synchronize" / "day1.zip", users, seed=seed, users_per_file=2500)
    done = lab.patronsync("run", "SIS", "--synchronize")
    assert done.returncode == 0, done.stderr


def next_day(folder: Path, users: int, seed: int) -> None:
    """The next day's feed: a changed fifth, a few added users, then a second file of new
    users with one duplicate (rejected), so a job crosses a file boundary."""
    folder.mkdir(parents=True, exist_ok=True)
    write_sample_feed(
        folder / "a-day2.zip",
        users,
        seed=seed + 1,
        base_seed=seed,
        changed_fraction=0.2,
        added_fraction=0.05,
        users_per_file=max(users // 2, 1),
    )
    extra = [user_xml(f"new{n}", barcode=f"NB{n}") for n in range(30)]
    extra.append(user_xml("new3", last="Duplicate"))
    write_zip(folder / "b-new.zip", {"new.xml": users_doc(*extra)})


def lab_for(tmp: Path, *, users: int, seed: int, batch_size: int) -> Iterator[LabDatabase]:
    lab = LabDatabase(tmp / "lab", batch_size=batch_size)
    try:  # the lab's databases go even when building them fails
        lab.build_template(lambda lab: day_one(lab, users, seed))
        next_day(lab.feed, users, seed)
        yield lab
    finally:
        lab.drop_all()


def drop_feed(lab: LabDatabase) -> None:
    lab.reset()
    for path in lab.feed.iterdir():
        shutil.copyfile(path, lab.drop / "synchronize" / path.name)


def uninterrupted(lab: LabDatabase) -> dict:
    """The end state of the feed's Synchronize run once, from start to end."""
    drop_feed(lab)
    done = lab.patronsync("run", "SIS", "--synchronize")
    assert done.returncode == 4, done.stderr  # completed with errors: the duplicate
    state = lab.state()
    [job] = state["jobs"]
    assert job[0] == "completed_with_errors"  # the duplicate is rejected
    return state


@pytest.fixture(scope="module")
def race_lab(tmp_path_factory) -> Iterator[LabDatabase]:
    """A few hundred users, batches of 10."""
    yield from lab_for(tmp_path_factory.mktemp("race"), users=300, seed=11, batch_size=10)


@pytest.fixture(scope="module")
def sweep_lab(tmp_path_factory) -> Iterator[LabDatabase]:
    """The CI sweep's 5,000 users, batches of 100."""
    yield from lab_for(tmp_path_factory.mktemp("sweep"), users=5000, seed=21, batch_size=100)


def killed_run(lab: LabDatabase, position: int) -> list[tuple[int, str]]:
    """Start the feed's Synchronize and SIGKILL it past `position`; returns its children."""
    drop_feed(lab)
    readers = kill_when(lab, lab.start("run", "SIS", "--synchronize"), position)
    [job] = lab.jobs()
    assert job["status"] == "running", f"the job ended before the kill ({job['status']})"
    return readers


def test_the_reading_process_dies_with_its_killed_job(race_lab):
    readers = killed_run(race_lab, 50)
    assert readers, "the job had no reading process when it was killed"
    wait_for(lambda: not any(alive(reader) for reader in readers), "the reader to end")


def test_a_killed_job_is_resumed_by_one_of_two_runs_started_together(race_lab):
    """kill -9, then two runs at once, RACE_TRIES times: each time exactly one resumes the
    job, none runs it twice, and the end state is the uninterrupted run's, row by row."""
    want = uninterrupted(race_lab)
    rng = random.Random(SEED)
    for attempt in range(RACE_TRIES):
        position = rng.randrange(10, 200)
        where = f"try {attempt}, kill past user {position} (seed {SEED})"
        killed_run(race_lab, position)
        if attempt == 0:
            # The killed worker's lease still holds: nobody resumes yet, whatever its PID says.
            early = race_lab.patronsync("run", "SIS", "--synchronize")
            assert early.returncode == 3, where
            assert "its worker holds it until" in early.stderr, where
        race_lab.expire_leases()  # time passes
        second = ("worker", "--once") if attempt % 2 else ("run", "SIS", "--synchronize")
        racers = [race_lab.start("run", "SIS", "--synchronize"), race_lab.start(*second)]
        outputs = [racer.communicate(timeout=120) for racer in racers]
        codes = [racer.returncode for racer in racers]
        assert set(codes) <= {0, 3, 4}, f"{where}: {outputs}"  # done, skipped, done with errors

        # One run resumed the killed job; the other was skipped, or (on a slow machine) began
        # only once that job had ended, and then found no file left to take.
        job, *later = race_lab.jobs()
        assert job["log"].count("resumed after interruption") == 1, where
        assert "Stopped:" not in job["log"], where
        for other in later:
            assert other["total_records_processed"] == 0, f"{where}: {other['log']}"
            assert "No new zip files" in other["log"], where
        got = race_lab.state()
        got["jobs"] = got["jobs"][:1]
        assert differences(got, want) == [], where


def test_five_random_kill_points_of_a_5000_user_synchronize_end_as_if_never_killed(sweep_lab):
    want = uninterrupted(sweep_lab)
    total = want["jobs"][0][-1]
    rng = random.Random(SEED)
    for position in sorted(rng.sample(range(100, 3500), SWEEP_KILLS)):
        where = f"kill past user {position} of {total} (seed {SEED})"
        readers = killed_run(sweep_lab, position)
        sweep_lab.expire_leases()
        resumed = sweep_lab.patronsync("run", "SIS", "--synchronize")
        assert resumed.returncode == 4, f"{where}: {resumed.stderr}"  # with the duplicate
        wait_for(lambda gone=readers: not any(map(alive, gone)), f"{where}: readers")
        assert differences(sweep_lab.state(), want) == [], where
