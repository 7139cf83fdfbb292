"""`patronsync run` for cron: its exit code says how the job ended, and off a terminal its
progress is plain lines (users done of the total, rate, time left)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from config.settings.base import BASE_DIR
from patronsync.cli import main
from patronsync.jobs import progress as run_progress
from patronsync.jobs import runner
from patronsync.jobs.commands import EXIT_OF_STATUS
from patronsync.jobs.models import Job
from patronsync.jobs.services import job_cancel, job_start
from patronsync.loader import pipeline
from patronsync.loader.tests.conftest import user_xml, users_doc, write_zip

pytestmark = pytest.mark.django_db


def sync_feed(drop, *users, name="feed.zip"):
    return write_zip(drop / "synchronize" / name, {"users.xml": users_doc(*users)})


def test_a_job_that_completes_successfully_exits_0(profile, drop):
    sync_feed(drop, user_xml("u1"), user_xml("u2"))

    assert main(["run", "SIS", "--synchronize"]) == 0


def test_a_job_with_rejected_users_exits_4(profile, drop):
    sync_feed(drop, user_xml("u1"), user_xml(None, first="No", last="Id"))

    assert main(["run", "SIS", "--synchronize"]) == 4
    assert Job.objects.get().status == "completed_with_errors"


def test_a_job_that_fails_exits_5(profile, drop):
    (drop / "synchronize").rmdir()

    assert main(["run", "SIS", "--synchronize"]) == 5
    assert Job.objects.get().status == "failed"


def test_a_job_that_errors_exits_6(profile, drop, monkeypatch):
    sync_feed(drop, user_xml("u1"))

    def broken(*args, **kwargs):
        raise RuntimeError("unexpected")

    monkeypatch.setattr(runner, "load_file", broken)

    assert main(["run", "SIS", "--synchronize"]) == 6
    assert Job.objects.get().status == "errored"


def test_a_run_skipped_because_a_job_of_the_profile_waits_exits_3(profile, drop, capsys):
    waiting = job_start(profile=profile, kind="synchronize")

    assert main(["run", "SIS", "--synchronize"]) == 3
    assert waiting.process_id in capsys.readouterr().err


def test_a_job_cancelled_while_it_runs_exits_8(profile, drop, monkeypatch):
    monkeypatch.setattr(pipeline, "BATCH_SIZE", 2)
    sync_feed(drop, *(user_xml(f"u{n}") for n in range(6)))
    advance = run_progress.RunProgress.__call__

    def cancel_from_another_terminal(self, users):
        advance(self, users)
        job_cancel(job=Job.objects.get(pk=self.job_id), actor="operator")

    monkeypatch.setattr(run_progress.RunProgress, "__call__", cancel_from_another_terminal)

    assert main(["run", "SIS", "--synchronize"]) == 8
    assert Job.objects.get().status == "cancelled"


def test_no_such_profile_exits_2(profile, capsys):
    assert main(["run", "NOPE", "--synchronize"]) == 2
    assert "No profile 'NOPE'" in capsys.readouterr().err


def test_an_inactive_section_exits_2(profile, capsys):
    profile.import_active = False
    profile.save()

    assert main(["run", "SIS", "--import"]) == 2
    assert "not active" in capsys.readouterr().err


def test_a_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as usage:
        main(["run", "SIS"])  # neither --import nor --synchronize

    assert usage.value.code == 2


def test_every_exit_code_is_in_runs_help(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = capsys.readouterr().out

    for code in {0, 2, 3, *EXIT_OF_STATUS.values()}:
        assert f"\n  {code}  " in text
    assert len(set(EXIT_OF_STATUS.values())) == len(EXIT_OF_STATUS)  # each end its own code


# As cron runs it: a real process whose output is a pipe.


def patronsync(data_dir: Path, *arguments: str, **extra: str) -> subprocess.CompletedProcess:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("PATRONSYNC_") and name not in {"DATABASE_URL"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.dev",
        PATRONSYNC_DATA_DIR=str(data_dir),
        PATRONSYNC_READ_AHEAD="false",
        **extra,
    )
    return subprocess.run(
        [sys.executable, "-m", "patronsync.cli", *arguments],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def quickstarted(tmp_path_factory) -> Path:
    """A data directory after `patronsync quickstart` (100 users), as the README leaves it."""
    data_dir = tmp_path_factory.mktemp("run") / "data"
    done = patronsync(data_dir, "quickstart", "--users", "100")
    assert done.returncode == 0, done.stderr
    return data_dir


def next_day(data_dir: Path, name: str) -> None:
    feed = data_dir / "sis" / "synchronize" / name
    day_two = ("--seed", "2", "--base-seed", "1", "--changed-fraction", "0.1")
    made = patronsync(data_dir, "feed", "sample", "--users", "100", *day_two, "-o", str(feed))
    assert made.returncode == 0, made.stderr


@pytest.mark.django_db(False)
def test_off_a_terminal_run_prints_plain_progress_lines_with_the_total(quickstarted):
    next_day(quickstarted, "day-two.zip")

    # The apply pass reads the feed again, batch by batch (applying the plan's records alone,
    # below, moves in larger steps).
    result = patronsync(
        quickstarted, "run", "SIS", "--synchronize",
        PATRONSYNC_BATCH_SIZE="10", PATRONSYNC_APPLY_FROM_PLAN="false",
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    title = "Users SYNCHRONIZE using profile Student Information System"
    assert lines[0] == f"{title}: started"
    progress = [line for line in lines if line.startswith(f"{title}: progress: ")]
    # A line at each tenth of the 100 users (the total is known once the file is fetched).
    assert [line.split(": ")[2].split(" users")[0] for line in progress] == [
        f"{n} of 100" for n in range(10, 101, 10)
    ]
    assert all("users/s" in line for line in progress)
    assert any(" left" in line for line in progress[:-1])
    assert any(line.startswith(f"{title}: done: 100 of 100 users (100 %)") for line in lines)
    assert "\x1b[" not in result.stdout  # no terminal control sequences in a log
    assert "Patron Import Results" in result.stdout


@pytest.mark.django_db(False)
def test_progress_of_an_apply_pass_of_the_plan_alone_counts_the_kept_users_up_to_the_total(
    quickstarted,
):
    next_day(quickstarted, "day-two-kept.zip")

    result = patronsync(quickstarted, "run", "SIS", "--synchronize", PATRONSYNC_BATCH_SIZE="10")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any("applying its records alone" in line for line in lines), result.stdout
    title = "Users SYNCHRONIZE using profile Student Information System"
    done = [
        int(line.split(": ")[2].split(" of ")[0])
        for line in lines
        if line.startswith(f"{title}: progress: ")
    ]
    assert done == sorted(done)
    assert done[-1] == 100
    assert any(line.startswith(f"{title}: done: 100 of 100 users (100 %)") for line in lines)


@pytest.mark.django_db(False)
def test_run_json_keeps_stdout_for_the_report_and_progress_on_stderr(quickstarted):
    next_day(quickstarted, "day-two-again.zip")

    result = patronsync(
        quickstarted, "run", "SIS", "--synchronize", "--json", PATRONSYNC_BATCH_SIZE="50"
    )

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["total_records_processed"] == 100
    assert re.search(r"progress: \d+ of 100 users \(\d+ %\)", result.stderr), result.stderr
