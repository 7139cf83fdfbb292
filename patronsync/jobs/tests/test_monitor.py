"""Monitor Jobs, in the API and the CLI: running jobs with users done of the total (counted as
each file is fetched), rate and time left; each scheduled section's next run; the history.
Also `patronsync job cancel`, and the count of a zip's users that gives the total."""

from __future__ import annotations

import datetime as dt
import json
import zipfile

import pytest

from patronsync.accounts.choices import StaffRole
from patronsync.accounts.services import api_key_create
from patronsync.almaxml.count import users_count
from patronsync.api.tests.conftest import key_client, staff_client
from patronsync.cli import main
from patronsync.jobs.runner import job_run
from patronsync.jobs.selectors import job_progress, jobs_monitor
from patronsync.jobs.services import job_create, job_start, profile_run
from patronsync.loader import pipeline
from patronsync.loader.tests.conftest import user_xml, users_doc, write_zip
from patronsync.profiles.services import profile_update

pytestmark = pytest.mark.django_db


def sync_feed(drop, count, *, name="feed.zip", start=0):
    users = (user_xml(f"u{n}") for n in range(start, start + count))
    return write_zip(drop / "synchronize" / name, {"users.xml": users_doc(*users)})


@pytest.fixture
def api(institution):
    return key_client(api_key_create(institution=institution, name="ops", read_only=True)[1])


def test_while_a_job_runs_monitor_shows_users_done_of_the_total(profile, drop, api, monkeypatch):
    monkeypatch.setattr(pipeline, "BATCH_SIZE", 4)
    sync_feed(drop, 10)
    seen = []

    def look(users):
        seen.append(api.get("/api/v1/jobs/monitor").json())

    job = job_create(profile=profile, kind="synchronize")
    job_run(job=job, progress=look)

    first = seen[0]["active"][0]
    assert first["id"] == job.pk
    assert first["status"] == "running"
    assert first["progress"]["done"] == 4
    assert first["progress"]["total"] == 10
    assert first["progress"]["rate_per_second"] > 0
    assert first["progress"]["eta_seconds"] >= 0
    assert [s["active"][0]["progress"]["done"] for s in seen] == [4, 8, 10]
    assert seen[-1]["history"] == []


def test_the_total_adds_up_the_users_of_every_file(profile, drop):
    sync_feed(drop, 3, name="a.zip")
    sync_feed(drop, 5, name="b.zip", start=3)

    job = profile_run(profile=profile, kind="synchronize")

    assert job.users_expected == 8
    progress = job_progress(job=job)
    assert (progress["done"], progress["total"]) == (8, 8)
    assert progress["eta_seconds"] is None  # it has ended


class Killed(BaseException):
    """Stands for the job's process being killed: not an Exception, so nothing catches it."""


def test_a_resumed_job_keeps_its_total_exact(profile, drop, monkeypatch):
    monkeypatch.setattr(pipeline, "BATCH_SIZE", 3)
    sync_feed(drop, 7, name="a.zip")
    sync_feed(drop, 4, name="b.zip", start=7)
    real_write = pipeline.write_batch
    calls = {"n": 0}

    def write_then_die_after_the_second(ctx, processor, checkpoint):
        real_write(ctx, processor, checkpoint)
        calls["n"] += 1
        if calls["n"] == 2:  # 6 of a.zip's 7 users committed
            raise Killed

    monkeypatch.setattr(pipeline, "write_batch", write_then_die_after_the_second)
    job = job_create(profile=profile, kind="synchronize")
    with pytest.raises(Killed):
        job_run(job=job)
    monkeypatch.setattr(pipeline, "write_batch", real_write)
    job.refresh_from_db()
    assert (job.total_records_processed, job.users_expected) == (6, 7)

    resumed = job_run(job=job_create(profile=profile, kind="synchronize"))

    assert resumed.pk == job.pk
    assert (resumed.total_records_processed, resumed.users_expected) == (11, 11)


def test_a_pending_job_has_no_total_nor_rate_yet(profile, api):
    job = job_start(profile=profile, kind="synchronize")

    listed = api.get("/api/v1/jobs").json()["results"][0]

    assert listed["id"] == job.pk
    assert listed["progress"] == {
        "done": 0,
        "total": None,
        "rate_per_second": None,
        "eta_seconds": None,
    }


def test_monitor_shows_the_next_run_of_each_scheduled_section(profile, api, institution):
    institution.time_zone = "Europe/Berlin"
    institution.save()
    profile_update(
        profile=profile,
        values={"sync_schedule": "CRON", "sync_cron": "30 2 * * *", "sync_active": True},
        actor="tests",
    )

    monitor = api.get("/api/v1/jobs/monitor").json()

    [section] = monitor["scheduled"]
    assert (section["profile"], section["kind"], section["active"]) == ("SIS", "synchronize", True)
    next_run = dt.datetime.fromisoformat(section["next_run"])
    assert (next_run.hour, next_run.minute) == (2, 30)
    assert next_run.utcoffset() in (dt.timedelta(hours=1), dt.timedelta(hours=2))
    assert section["description"]


def test_history_lists_the_ended_jobs_newest_first_with_their_counters(profile, drop, api):
    sync_feed(drop, 2, name="a.zip")
    first = profile_run(profile=profile, kind="synchronize")
    write_zip(
        drop / "synchronize" / "b.zip",
        {"users.xml": users_doc(user_xml("u0"), user_xml(None, first="No", last="Id"))},
    )
    second = profile_run(profile=profile, kind="synchronize")

    history = api.get("/api/v1/jobs/monitor?history=5").json()["history"]

    assert [job["id"] for job in history] == [second.pk, first.pk]
    assert history[0]["status"] == "completed_with_errors"
    assert (history[0]["unchanged"], history[0]["rejected"]) == (1, 1)
    assert (history[1]["created"], history[1]["status"]) == (2, "completed")


def test_monitor_shows_only_the_callers_institutions(profile, drop, other_institution):
    job_start(profile=profile, kind="synchronize")
    other = staff_client("branch", {other_institution: StaffRole.VIEWER})

    monitor = other.get("/api/v1/jobs/monitor").json()

    assert monitor == {"active": [], "scheduled": [], "history": []}


def test_monitor_needs_a_caller(client):
    assert client.get("/api/v1/jobs/monitor").status_code in (401, 403)


def test_monitor_refuses_a_history_past_its_bound(api):
    answer = api.get("/api/v1/jobs/monitor?history=100000")

    assert answer.status_code == 400
    assert "history" in answer.json()


def test_the_monitor_selector_puts_the_soonest_scheduled_run_first(profile, institution):
    profile_update(
        profile=profile,
        values={
            "sync_schedule": "DAILY_0500", "sync_active": True,
            "import_schedule": "DAILY_0100", "import_active": True,
        },
        actor="tests",
    )  # fmt: skip
    at = dt.datetime(2026, 3, 2, 0, 0, tzinfo=dt.UTC)

    monitor = jobs_monitor(institutions=type(institution).objects.all(), now=at)

    assert [(s.kind, s.next_runs[0].hour) for s in monitor.scheduled] == [
        ("import", 1),
        ("synchronize", 5),
    ]


# The CLI


def test_job_monitor_prints_the_three_tables(profile, drop, capsys):
    sync_feed(drop, 2)
    ended = profile_run(profile=profile, kind="synchronize")
    pending = job_start(profile=profile, kind="synchronize")

    assert main(["job", "monitor"]) == 0

    out = capsys.readouterr().out
    assert "Running and pending jobs" in out
    assert pending.process_id[:6] in out
    assert "No profile section is scheduled." in out
    assert "History" in out
    assert str(ended.pk) in out


def test_job_monitor_json_has_progress(profile, drop, capsys):
    sync_feed(drop, 3)
    ended = profile_run(profile=profile, kind="synchronize")

    assert main(["jobs", "monitor", "--json"]) == 0

    monitor = json.loads(capsys.readouterr().out)
    assert monitor["history"][0]["id"] == ended.pk
    assert monitor["history"][0]["progress"]["done"] == 3
    assert monitor["history"][0]["progress"]["total"] == 3


def test_job_cancel_cancels_a_pending_job_by_process_id(profile, capsys):
    job = job_start(profile=profile, kind="synchronize")

    assert main(["job", "cancel", job.process_id]) == 0

    job.refresh_from_db()
    assert job.status == "cancelled"
    assert "cancelled" in capsys.readouterr().out
    assert "Cancelled by cli:" in job.log


def test_job_cancel_of_an_ended_job_says_why(profile, drop, capsys):
    sync_feed(drop, 1)
    job = profile_run(profile=profile, kind="synchronize")

    assert main(["job", "cancel", str(job.pk)]) == 1
    assert "only a pending or running job can be cancelled" in capsys.readouterr().err


def test_job_cancel_of_no_such_job_exits_2(db, capsys):
    assert main(["job", "cancel", "424242"]) == 2
    assert "No job 424242" in capsys.readouterr().err


# Counting a zip's users


def test_the_count_finds_every_user_and_no_other_element(tmp_path):
    feed = tmp_path / "feed.zip"
    with zipfile.ZipFile(feed, "w") as zf:
        zf.writestr("a.xml", users_doc(*(user_xml(f"u{n}", barcode=f"B{n}") for n in range(7))))
        zf.writestr("b.xml", '<users>\n<user id="x">\n</user><user\n/><user_group/></users>')
        zf.writestr("readme.txt", "<user>not a feed</user>")

    assert users_count(feed) == 9


def test_the_count_finds_a_tag_cut_by_the_chunk_boundary(tmp_path, monkeypatch):
    from patronsync.almaxml import count

    monkeypatch.setattr(count, "CHUNK_BYTES", 3)
    feed = tmp_path / "feed.zip"
    with zipfile.ZipFile(feed, "w") as zf:
        zf.writestr("a.xml", users_doc(*(user_xml(f"u{n}") for n in range(5))))

    assert users_count(feed) == 5


def test_a_zip_the_load_refuses_is_not_counted(tmp_path):
    feed = tmp_path / "bomb.zip"
    with zipfile.ZipFile(feed, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.xml", b"<users>" + b" " * (50 * 1024 * 1024) + b"</users>")
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 not really a zip")

    assert users_count(feed) is None
    assert users_count(broken) is None
