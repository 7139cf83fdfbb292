"""A job killed at any moment and run again ends as if it had never stopped."""

from __future__ import annotations

import pytest

from patronsync.jobs import runner
from patronsync.jobs.models import Job, JobRecord, ReceivedFile
from patronsync.jobs.services import profile_run
from patronsync.loader import pipeline
from patronsync.loader import writer as batch_module
from patronsync.patrons.models import Patron, PatronIdentifier

from .conftest import user_xml, users_doc, write_zip

pytestmark = pytest.mark.django_db


class Killed(BaseException):
    """Stands for the process being killed: not an Exception, so nothing catches it."""


def feed(drop, folder="synchronize", comment_after=None):
    """Eight users, one a duplicate; a comment after user `comment_after` makes the reader
    leave the byte-level splitter for the XML parser there."""
    users = [user_xml(f"u{n}", barcode=f"B{n}") for n in range(7)]
    users.append(user_xml("u3", last="Duplicate"))  # rejected as a duplicate in this feed
    if comment_after is not None:
        users.insert(comment_after, "<!-- exported in two runs -->")
    write_zip(drop / folder / "feed.zip", {"users.xml": users_doc(*users)})


def assert_complete(job):
    assert (job.status, job.created, job.rejected) == ("completed_with_errors", 7, 1)
    assert job.total_records_processed == 8
    assert Patron.objects.count() == 7
    assert PatronIdentifier.objects.count() == 14
    assert JobRecord.objects.filter(job=job).count() == 8
    assert ReceivedFile.objects.get().status == "handled"


@pytest.mark.parametrize("kill_at", ["after_commit", "inside_batch"])
@pytest.mark.parametrize(
    ("kind", "comment_after"), [("synchronize", None), ("synchronize", 4), ("import", 4)]
)
def test_killed_job_resumes_to_the_same_end_state(
    profile, drop, monkeypatch, kill_at, kind, comment_after
):
    monkeypatch.setattr(pipeline, "BATCH_SIZE", 3)
    feed(drop, kind, comment_after)
    real_write = batch_module.write_batch
    real_insert = runner.insert_rows
    calls = {"n": 0}

    def insert_or_die(model, names, rows):
        # The job records are the last rows a batch inserts, inside its transaction.
        if model is JobRecord and calls["n"] == 2:
            raise Killed
        real_insert(model, names, rows)

    def write_then_maybe_die(ctx, processor, checkpoint):
        calls["n"] += 1
        real_write(ctx, processor, checkpoint)
        if kill_at == "after_commit" and calls["n"] == 2:
            raise Killed

    if kill_at == "inside_batch":
        monkeypatch.setattr(runner, "insert_rows", insert_or_die)
    monkeypatch.setattr(pipeline, "write_batch", write_then_maybe_die)
    with pytest.raises(Killed):
        profile_run(profile=profile, kind=kind)
    job = Job.objects.get()
    assert job.status == "running"
    assert (drop / kind / "feed.zip").exists()  # not handled before all users are in

    if kill_at == "inside_batch":  # the second batch was rolled back whole
        assert Patron.objects.count() == 3
        assert job.checkpoint["position"] == 3
    monkeypatch.setattr(pipeline, "write_batch", real_write)
    monkeypatch.setattr(runner, "insert_rows", real_insert)
    resumed = profile_run(profile=profile, kind=kind)
    assert resumed.id == job.id
    assert "resumed after interruption" in resumed.log
    assert_complete(resumed)
    assert (drop / kind / "feed.zip.handled").exists()


def test_cancelled_job_stops_after_a_batch_and_the_file_is_taken_again(profile, drop, monkeypatch):
    from patronsync.jobs.services import job_cancel

    monkeypatch.setattr(pipeline, "BATCH_SIZE", 3)
    feed(drop)
    job = None

    def cancel_after_first_batch(done):
        job_cancel(job=Job.objects.get(), actor="desk")

    job = profile_run(profile=profile, kind="synchronize", progress=cancel_after_first_batch)
    assert job.status == "cancelled"
    assert "Cancelled by desk after 3 users of feed.zip" in job.log
    assert Patron.objects.count() == 3
    assert (drop / "synchronize" / "feed.zip").exists()

    again = profile_run(profile=profile, kind="synchronize")
    assert again.id != job.id
    assert (again.created, again.unchanged, again.rejected) == (4, 3, 1)
    assert Patron.objects.count() == 7


def test_killed_before_the_second_copy_of_a_file_commits_resumes_that_copy_from_its_start(
    profile, drop, monkeypatch
):
    """The same bytes twice in one run, under two names, killed before the second copy's
    first batch commits: the checkpoint still has the first copy's bytes and end, but it names
    that copy's taking, so the resumed job loads the second copy from its start."""
    monkeypatch.setattr(pipeline, "BATCH_SIZE", 3)
    feed(drop)
    folder = drop / "synchronize"
    (folder / "copy.zip").write_bytes((folder / "feed.zip").read_bytes())
    real_write = batch_module.write_batch
    calls = {"n": 0}

    def die_in_the_second_copy(ctx, processor, checkpoint):
        calls["n"] += 1
        if calls["n"] == 4:  # copy.zip (first by name) took 3 batches
            raise Killed
        real_write(ctx, processor, checkpoint)

    monkeypatch.setattr(pipeline, "write_batch", die_in_the_second_copy)
    with pytest.raises(Killed):
        profile_run(profile=profile, kind="synchronize")
    assert Job.objects.get().checkpoint["position"] == 8
    monkeypatch.setattr(pipeline, "write_batch", real_write)

    job = profile_run(profile=profile, kind="synchronize")
    assert job.status == "completed_with_errors"
    assert job.total_records_processed == 16
    assert (job.created, job.unchanged, job.rejected) == (7, 7, 2)
    assert [(f["name"], f["users"]) for f in job.files] == [("copy.zip", 8), ("feed.zip", 8)]
    assert job.files[1]["repeats"]["file"] == "copy.zip"
    assert [r.status for r in ReceivedFile.objects.order_by("id")] == ["handled", "handled"]
    assert (folder / "feed.zip.handled").exists()
