"""The job runner: the only writer of a job's row, its log, its settings, its files and workers."""

from __future__ import annotations

import io
import logging
import shutil

import pytest
from rich.console import Console

from patronsync.cli import main
from patronsync.connections.transports import LocalTransport
from patronsync.core.models import CodeTableEntry
from patronsync.demo.services import demo_config
from patronsync.jobs import runner
from patronsync.jobs.commands import print_report
from patronsync.jobs.models import Job, JobRecord, ReceivedFile
from patronsync.jobs.runner import JobRunner, jobs_run_pending
from patronsync.jobs.selectors import job_report
from patronsync.jobs.services import job_cancel, job_create, job_start, profile_run
from patronsync.loader import pipeline
from patronsync.loader.tests.conftest import user_xml, users_doc, write_zip
from patronsync.patrons.models import Patron
from patronsync.profiles.models import IntegrationProfile
from patronsync.profiles.services import config_apply

pytestmark = pytest.mark.django_db


class Killed(BaseException):
    """Stands for the process being killed: not an Exception, so nothing catches it."""


def drop_feed(drop, name, *users, folder="synchronize"):
    return write_zip(drop / folder / name, {"users.xml": users_doc(*users)})


def seven_users(drop, name="feed.zip"):
    return drop_feed(drop, name, *(user_xml(f"u{n}", barcode=f"B{n}") for n in range(7)))


def kill_after_batches(monkeypatch, count):
    """Make the job's process die right after its `count`-th batch is committed."""
    real_write = pipeline.write_batch
    calls = {"n": 0}

    def write_then_maybe_die(ctx, processor, checkpoint):
        real_write(ctx, processor, checkpoint)
        calls["n"] += 1
        if calls["n"] == count:
            raise Killed

    monkeypatch.setattr(pipeline, "write_batch", write_then_maybe_die)
    return real_write


def test_a_cancel_request_and_its_log_line_survive_the_run(profile, drop, monkeypatch):
    monkeypatch.setattr(pipeline, "BATCH_SIZE", 3)
    seven_users(drop)

    def cancel_after_first_batch(done):
        job_cancel(job=Job.objects.get(), actor="desk")

    job = profile_run(profile=profile, kind="synchronize", progress=cancel_after_first_batch)
    assert job.status == "cancelled"
    assert job.cancel_requested_by == "desk"
    lines = job.log.splitlines()
    [requested] = [n for n, line in enumerate(lines) if line.endswith("Cancel requested by desk")]
    [stopped] = [n for n, line in enumerate(lines) if "Cancelled by desk after 3 users" in line]
    assert requested < stopped
    assert (job.created, job.total_records_processed) == (3, 3)
    assert ReceivedFile.objects.get().status == "cancelled"


def test_the_job_log_keeps_lines_appended_while_it_runs(profile, drop, monkeypatch):
    """A line another process appends between two batches is not written over."""
    monkeypatch.setattr(pipeline, "BATCH_SIZE", 3)
    seven_users(drop)

    def note(done):
        Job.objects.filter(pk=Job.objects.get().pk).update(
            log=runner.log_appended(runner.log_line(f"note after {done} users"))
        )

    job = profile_run(profile=profile, kind="synchronize", progress=note)
    assert job.status == "completed"
    assert [line.split(" ", 2)[2] for line in job.log.splitlines() if "note after" in line] == [
        "note after 3 users",
        "note after 3 users",
        "note after 1 users",
    ]
    assert "feed.zip: 7 users read, 0 file problems" in job.log


def test_log_lines_reach_python_logging_with_the_job_id(profile, drop, caplog):
    drop_feed(drop, "day1.zip", user_xml("u1", email="secret.person@uni.edu"))
    with caplog.at_level(logging.INFO, logger="patronsync.jobs"):
        job = profile_run(profile=profile, kind="synchronize")
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("patronsync.jobs")]
    assert f"job {job.id}: day1.zip: 1 users read, 0 file problems" in messages
    assert f"job {job.id}: Finished: Completed successfully" in messages
    assert not any("secret.person" in m or "<user>" in m for m in messages)


def test_an_unexpected_exception_errors_the_job_with_its_traceback(profile, drop, monkeypatch):
    seven_users(drop)

    def broken_load(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(runner, "load_file", broken_load)
    job = profile_run(profile=profile, kind="synchronize")
    assert job.status == "errored"
    assert "Errored:\nTraceback (most recent call last):" in job.log
    assert "RuntimeError: disk on fire" in job.log
    assert ReceivedFile.objects.get().status == "failed"
    assert (drop / "synchronize" / "feed.zip").exists()  # the next run takes it again


def test_a_resumed_job_runs_with_the_settings_it_was_started_with(profile, drop, monkeypatch):
    """Between the kill and the resume the profile is changed to match on UNIV_ID (which these
    users lack) and to give users the STAFF record type: the resumed job keeps PRIMARY_ID and
    PUBLIC, as its report's parameters say."""
    monkeypatch.setattr(pipeline, "BATCH_SIZE", 3)
    seven_users(drop)
    real_write = kill_after_batches(monkeypatch, 1)
    with pytest.raises(Killed):
        profile_run(profile=profile, kind="synchronize")
    IntegrationProfile.objects.filter(pk=profile.pk).update(
        sync_match_id_type="UNIV_ID", sync_record_type="STAFF"
    )
    monkeypatch.setattr(pipeline, "write_batch", real_write)

    profile.refresh_from_db()
    resumed = profile_run(profile=profile, kind="synchronize")
    assert "resumed after interruption" in resumed.log
    assert (resumed.status, resumed.created, resumed.rejected) == ("completed", 7, 0)
    assert resumed.parameters["match_id_type"] == "PRIMARY_ID"
    assert set(Patron.objects.values_list("record_type", flat=True)) == {"PUBLIC"}

    seven_users(drop, "next.zip")  # a new job takes today's settings
    later = profile_run(profile=profile, kind="synchronize")
    assert later.parameters["match_id_type"] == "UNIV_ID"
    assert later.rejected == 7  # these users carry no UNIV_ID


def test_an_unknown_user_group_added_and_the_same_zip_dropped_again_loads_the_user(
    profile, drop, institution
):
    drop_feed(drop, "day1.zip", user_xml("u1"), user_xml("u2", group="NEWGRP"), user_xml("u3"))
    first = profile_run(profile=profile, kind="synchronize")
    assert (first.created, first.rejected) == (2, 1)
    [rejected] = JobRecord.objects.filter(job=first, outcome="rejected")
    assert "NEWGRP" in rejected.reason

    CodeTableEntry.objects.create(institution=institution, table="UserGroups", code="NEWGRP")
    (drop / "synchronize" / "day1.zip.handled").rename(drop / "synchronize" / "again.zip")
    again = profile_run(profile=profile, kind="synchronize")

    assert (again.status, again.created, again.unchanged, again.rejected) == (
        "completed",
        1,
        2,
        0,
    )
    assert Patron.objects.get(primary_id="u2").user_group == "NEWGRP"
    [entry] = again.files
    assert entry["repeats"] == {
        "file": "day1.zip",
        "job_id": first.id,
        "process_id": first.process_id,
    }
    assert f"again.zip: same content as day1.zip (job {first.id}, Process ID" in again.log
    assert (drop / "synchronize" / "again.zip.handled").exists()
    takings = ReceivedFile.objects.order_by("id")
    assert [(t.name, t.job_id, t.status) for t in takings] == [
        ("day1.zip", first.id, "handled"),
        ("again.zip", again.id, "handled"),
    ]
    out = io.StringIO()
    print_report(job_report(job=again), Console(file=out, width=200))
    assert f"day1.zip (job {first.id})" in out.getvalue()


def test_a_dry_run_says_which_file_it_repeats_and_records_no_taking(profile, drop):
    drop_feed(drop, "day1.zip", user_xml("u1"))
    first = profile_run(profile=profile, kind="synchronize")
    (drop / "synchronize" / "day1.zip.handled").rename(drop / "synchronize" / "again.zip")
    dry = profile_run(profile=profile, kind="synchronize", dry_run=True)
    assert dry.files[0]["repeats"]["job_id"] == first.id
    assert dry.unchanged == 1
    assert ReceivedFile.objects.count() == 1
    assert (drop / "synchronize" / "again.zip").exists()


def test_two_workers_never_take_the_same_job(profile):
    job = job_start(profile=profile, kind="synchronize")
    seen_by_a, seen_by_b = Job.objects.get(pk=job.pk), Job.objects.get(pk=job.pk)
    assert JobRunner(seen_by_a, worker="host-a:1").claim()
    assert not JobRunner(seen_by_b, worker="host-b:2").claim()
    job.refresh_from_db()
    assert job.status == "running"
    assert job.worker.startswith("host-a:1#")  # the worker, named per claim


def second_profile(institution, drop):
    """A profile HR beside SIS, reading its own folders."""
    for folder in ("hr-import", "hr-sync"):
        (drop / folder).mkdir()
    document = demo_config(drop)
    hr = {**document["profiles"][0], "code": "HR", "name": "Human Resources"}
    hr["import"] = {**hr["import"], "input_path": "hr-import"}
    hr["synchronize"] = {**hr["synchronize"], "input_path": "hr-sync"}
    document["profiles"].append(hr)
    config_apply(institution=institution, document=document)
    return IntegrationProfile.objects.get(institution=institution, code="HR")


def test_worker_once_runs_the_pending_jobs_oldest_first_and_exits_0(
    profile, drop, institution, capsys
):
    hr = second_profile(institution, drop)
    drop_feed(drop, "staff.zip", user_xml("h1"), folder="hr-sync")
    seven_users(drop)
    older = job_start(profile=hr, kind="synchronize")
    newer = job_start(profile=profile, kind="synchronize")
    assert Job.objects.filter(status="pending").count() == 2

    assert main(["worker", "--once"]) == 0
    printed = capsys.readouterr().out.splitlines()
    # One line as each job starts and one as it ends, in the order the jobs ran.
    assert [line.split()[1] for line in printed] == [str(older.id)] * 2 + [str(newer.id)] * 2
    older.refresh_from_db()
    newer.refresh_from_db()
    assert (older.status, older.created) == ("completed", 1)
    assert (newer.status, newer.created) == ("completed", 7)
    assert older.finished_at <= newer.started_at

    assert main(["worker", "--once"]) == 0  # nothing waits: nothing runs
    assert capsys.readouterr().out == ""


def test_worker_resumes_a_job_whose_process_died(profile, drop, monkeypatch):
    monkeypatch.setattr(pipeline, "BATCH_SIZE", 3)
    seven_users(drop)
    real_write = kill_after_batches(monkeypatch, 1)
    with pytest.raises(Killed):
        profile_run(profile=profile, kind="synchronize")
    monkeypatch.setattr(pipeline, "write_batch", real_write)

    [job] = jobs_run_pending()
    assert "resumed after interruption" in job.log
    assert (job.status, job.created, job.total_records_processed) == ("completed", 7, 7)


def test_a_job_cancelled_while_pending_is_not_run_by_a_worker(profile, drop):
    seven_users(drop)
    job = job_create(profile=profile, kind="synchronize")
    job_cancel(job=job, actor="desk")
    assert jobs_run_pending() == []
    assert not Patron.objects.exists()


def die_at_the_next_rename(monkeypatch):
    """Make the job's process die when it renames a file `.handled`, its users committed."""
    real_mark = LocalTransport.mark_handled

    def die(self, folder, name):
        monkeypatch.setattr(LocalTransport, "mark_handled", real_mark)  # once
        raise Killed

    monkeypatch.setattr(LocalTransport, "mark_handled", die)


@pytest.mark.parametrize("kind", ["synchronize", "import"])
def test_a_process_killed_between_the_commit_and_the_rename_never_loads_the_file_twice(
    profile, drop, monkeypatch, kind
):
    drop_feed(
        drop, "feed.zip", *(user_xml(f"u{n}", barcode=f"B{n}") for n in range(7)), folder=kind
    )
    die_at_the_next_rename(monkeypatch)
    with pytest.raises(Killed):
        profile_run(profile=profile, kind=kind)
    [taking] = ReceivedFile.objects.all()
    assert (taking.status, taking.users) == ("handled", 7)
    assert (drop / kind / "feed.zip").exists()  # its users are in, the file not renamed

    resumed = profile_run(profile=profile, kind=kind)

    assert "resumed after interruption" in resumed.log
    assert (resumed.status, resumed.created, resumed.rejected, resumed.unchanged) == (
        "completed",
        7,
        0,
        0,
    ), resumed.log
    assert resumed.total_records_processed == 7  # not loaded a second time
    assert (
        f"feed.zip: renamed feed.zip.handled by this run: its users were committed by job "
        f"{resumed.id}, Process ID {resumed.process_id}, which stopped before renaming it"
    ) in resumed.log
    assert sorted(p.name for p in (drop / kind).iterdir()) == ["feed.zip.handled"]
    taking.refresh_from_db()
    assert (taking.status, taking.mark_error) == ("handled", "")
    assert ReceivedFile.objects.count() == 1
    assert Patron.objects.count() == 7

    again = profile_run(profile=profile, kind=kind)
    assert f"No new zip files in {kind}" in again.log


def test_a_job_left_with_its_rename_pending_is_renamed_by_the_next_job(profile, drop, monkeypatch):
    """The killed job is cancelled, not resumed: the next job renames the file, loads none."""
    seven_users(drop)
    die_at_the_next_rename(monkeypatch)
    with pytest.raises(Killed):
        profile_run(profile=profile, kind="synchronize")
    killed = Job.objects.get()
    job_cancel(job=killed, actor="desk")

    later = profile_run(profile=profile, kind="synchronize")

    assert later.pk != killed.pk
    assert (later.status, later.total_records_processed) == ("completed", 0), later.log
    assert (
        f"feed.zip: renamed feed.zip.handled by this run: its users were committed by job "
        f"{killed.id}, Process ID {killed.process_id}, which stopped before renaming it"
    ) in later.log
    assert (drop / "synchronize" / "feed.zip.handled").exists()
    assert ReceivedFile.objects.get().mark_error == ""


def test_a_new_export_with_the_name_and_size_of_a_file_waiting_for_its_rename_is_loaded(
    profile, drop
):
    folder = drop / "synchronize"
    first_zip = seven_users(drop)
    (folder / "feed.zip.handled").mkdir()  # in the way of the rename
    first = profile_run(profile=profile, kind="synchronize")
    assert (first.status, first.created) == ("completed_with_errors", 7)
    shutil.rmtree(folder / "feed.zip.handled")
    size = first_zip.stat().st_size
    drop_feed(drop, "feed.zip", *(user_xml(f"u{n}", barcode=f"C{n}") for n in range(7)))
    assert (folder / "feed.zip").stat().st_size == size  # the name and size of the first one

    later = profile_run(profile=profile, kind="synchronize")

    assert (later.status, later.updated, later.total_records_processed) == ("completed", 7, 7)
    assert (
        f"feed.zip (loaded by job {first.id}, not yet renamed .handled) was replaced on the "
        "server by a file of other content, loaded as a new file"
    ) in later.log
    assert "not loaded again" not in later.log
    assert sorted(p.name for p in folder.iterdir()) == ["feed.zip.handled"]
    takings = ReceivedFile.objects.order_by("id")
    assert [(t.job_id, t.status, t.mark_error) for t in takings] == [
        (first.id, "handled", ""),
        (later.id, "handled", ""),
    ]
    assert takings[0].sha256 != takings[1].sha256


def test_a_file_waiting_for_its_rename_that_is_gone_from_its_folder_is_forgotten(profile, drop):
    """Only the rows of the job's own folder: the import folder's file still waits."""
    for kind in ("synchronize", "import"):
        drop_feed(drop, "feed.zip", user_xml("u1"), folder=kind)
        (drop / kind / "feed.zip.handled").mkdir()  # in the way of the rename
        profile_run(profile=profile, kind=kind)
    first_sync, first_import = Job.objects.order_by("id")
    assert ReceivedFile.objects.exclude(mark_error="").count() == 2
    (drop / "synchronize" / "feed.zip").unlink()  # someone took it away

    later = profile_run(profile=profile, kind="synchronize")

    assert later.status == "completed"
    assert (
        f"feed.zip (loaded by job {first_sync.id}, not yet renamed .handled) is no longer in "
        "synchronize (renamed or removed on the server)"
    ) in later.log
    assert ReceivedFile.objects.get(job=first_sync).mark_error == ""
    assert ReceivedFile.objects.get(job=first_import).mark_error  # not this job's folder

    shutil.rmtree(drop / "import" / "feed.zip.handled")
    imported = profile_run(profile=profile, kind="import")
    assert (imported.status, imported.total_records_processed) == ("completed", 0)
    assert f"feed.zip: renamed feed.zip.handled (loaded by job {first_import.id}" in imported.log
    assert ReceivedFile.objects.exclude(mark_error="").count() == 0
