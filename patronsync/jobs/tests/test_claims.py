"""One claim per job: a lease names the worker that holds a job, and only an expired lease lets
another worker resume it; a worker that lost its job writes nothing more; cancel ends any job."""

from __future__ import annotations

import socket
import subprocess
import sys
from datetime import datetime, timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from patronsync.api.tests.conftest import admin_api
from patronsync.jobs.leases import lease_length
from patronsync.jobs.models import Job, JobRecord, ReceivedFile
from patronsync.jobs.runner import JobRunner, jobs_run_pending
from patronsync.jobs.services import (
    JobAlreadyRunning,
    job_cancel,
    job_create,
    job_start,
    profile_run,
)
from patronsync.loader import pipeline
from patronsync.patrons.models import Patron, PatronChange

from .test_runner import Killed, kill_after_batches, seven_users

__all__ = ["admin_api"]

pytestmark = pytest.mark.django_db


def the_past() -> datetime:
    return timezone.now() - timedelta(seconds=1)


def dead_pid() -> int:
    """The process ID of a process of this host that has ended."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def held_by(job: Job, worker: str, *, lease_until) -> Job:
    """Make `job` running on `worker`, as a claim would, with the lease given."""
    Job.objects.filter(pk=job.pk).update(
        status="running",
        worker=worker,
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
        lease_until=lease_until,
    )
    job.refresh_from_db()
    return job


def test_a_job_whose_worker_died_is_not_resumed_before_its_lease_runs_out(profile, drop):
    """The process is gone, but the lease still holds: whatever the PID says, nobody resumes."""
    seven_users(drop)
    job = job_create(profile=profile, kind="synchronize")
    worker = f"{socket.gethostname()}:{dead_pid()}"
    held_by(job, worker, lease_until=timezone.now() + lease_length())

    with pytest.raises(JobAlreadyRunning, match="its worker holds it until"):
        profile_run(profile=profile, kind="synchronize")
    assert jobs_run_pending() == []
    job.refresh_from_db()
    assert (job.status, job.total_records_processed) == ("running", 0)
    assert not Patron.objects.exists()


def test_a_job_whose_lease_ran_out_resumes_even_when_its_pid_is_alive_again(profile, drop):
    """A dead job whose PID a live process took since: the lease ran out, so it resumes."""
    seven_users(drop)
    job = job_create(profile=profile, kind="synchronize")
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        held_by(job, f"{socket.gethostname()}:{other.pid}", lease_until=the_past())
        resumed = profile_run(profile=profile, kind="synchronize")
    finally:
        other.kill()
        other.wait()
    assert resumed.id == job.id
    assert "resumed after interruption" in resumed.log
    assert (resumed.status, resumed.created) == ("completed", 7)


def test_a_pending_job_is_never_handed_to_a_second_caller(profile, drop):
    """A pending job waits for its worker: another run is refused, and one worker claims it."""
    seven_users(drop)
    pending = job_start(profile=profile, kind="synchronize")
    assert not pending.lease_expired
    with pytest.raises(JobAlreadyRunning, match="waiting for a worker"):
        job_create(profile=profile, kind="synchronize")
    with pytest.raises(JobAlreadyRunning):
        profile_run(profile=profile, kind="synchronize")

    first = JobRunner(Job.objects.get(pk=pending.pk), worker="host-a:1")
    second = JobRunner(Job.objects.get(pk=pending.pk), worker="host-b:2")
    assert first.claim()
    assert not second.claim()
    assert not first.resumed
    assert first.job.lease_until > timezone.now()


def test_a_worker_whose_job_was_taken_over_commits_no_more_batches(profile, drop, monkeypatch):
    """Worker A stops renewing (a long pause), its lease runs out and worker B takes the job
    over: A's next batch rolls back and A stops without ending the job; B finishes it, and the
    end state is that of one uninterrupted run (7 users, 7 history rows, 7 records)."""
    monkeypatch.setattr(pipeline, "BATCH_SIZE", 3)
    seven_users(drop)
    job = job_create(profile=profile, kind="synchronize")
    takeover: list[JobRunner] = []

    def pause_then_lose_the_job(done):
        if takeover:
            return
        Job.objects.filter(pk=job.pk).update(lease_until=the_past())
        other = JobRunner(Job.objects.get(pk=job.pk), worker="host-b:2")
        assert other.claim()
        takeover.append(other)

    first = JobRunner(job, worker="host-a:1", progress=pause_then_lose_the_job)
    assert first.claim()
    stopped = first.run()
    assert stopped.status == "running"
    assert stopped.worker.startswith("host-b:2#")
    assert "Stopped: worker host-b:2#" in stopped.log
    assert stopped.total_records_processed == 3  # A's second batch rolled back whole
    assert Patron.objects.count() == 3

    [other] = takeover
    done = other.run()
    assert (done.status, done.created, done.total_records_processed) == ("completed", 7, 7)
    assert Patron.objects.count() == 7
    assert PatronChange.objects.count() == 7
    assert sorted(JobRecord.objects.values_list("position", flat=True)) == list(range(1, 8))
    assert ReceivedFile.objects.get().status == "handled"
    assert (drop / "synchronize" / "feed.zip.handled").exists()


def test_each_batch_renews_the_lease(profile, drop, monkeypatch):
    monkeypatch.setattr(pipeline, "BATCH_SIZE", 3)
    seven_users(drop)
    leases = []

    def note_lease(done):
        leases.append(Job.objects.get().lease_until)

    job = profile_run(profile=profile, kind="synchronize", progress=note_lease)
    assert job.status == "completed"
    assert len(leases) == 3
    assert leases == sorted(leases)
    assert all(lease > timezone.now() for lease in leases)
    assert job.lease_until is None  # an ended job is held by nobody


def test_an_interrupted_run_gives_its_lease_back_and_the_next_run_resumes_at_once(
    profile, drop, monkeypatch
):
    monkeypatch.setattr(pipeline, "BATCH_SIZE", 3)
    seven_users(drop)
    real_write = kill_after_batches(monkeypatch, 1)
    with pytest.raises(Killed):
        profile_run(profile=profile, kind="synchronize")
    assert Job.objects.get().lease_expired
    monkeypatch.setattr(pipeline, "write_batch", real_write)
    resumed = profile_run(profile=profile, kind="synchronize")
    assert (resumed.status, resumed.created) == ("completed", 7)


def test_cancelling_a_job_whose_worker_died_ends_it_at_once(profile, drop):
    """No worker holds it, so nobody would ever act on a request: the cancel ends the job, its
    half-done file is cancelled in the ledger, and the next run takes the file again."""
    seven_users(drop)
    job = job_create(profile=profile, kind="synchronize")
    held_by(job, f"{socket.gethostname()}:{dead_pid()}", lease_until=the_past())
    ReceivedFile.objects.create(
        institution=job.institution,
        profile=profile,
        job=job,
        name="feed.zip",
        sha256="0" * 64,
        size=1,
        status="processing",
    )
    cancelled = job_cancel(job=job, actor="desk")
    assert cancelled.status == "cancelled"
    assert cancelled.finished_at is not None
    assert "Cancelled by desk; no worker held the job" in cancelled.log
    assert ReceivedFile.objects.get().status == "cancelled"
    assert jobs_run_pending() == []

    again = profile_run(profile=profile, kind="synchronize")
    assert again.id != job.id
    assert (again.status, again.created) == ("completed", 7)


def test_cancel_through_the_api_ends_a_job_whose_pid_was_reused(admin_api, profile, drop):
    job = job_create(profile=profile, kind="synchronize")
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        held_by(job, f"{socket.gethostname()}:{other.pid}", lease_until=the_past())
        response = admin_api.post(f"/api/v1/jobs/{job.pk}/cancel")
    finally:
        other.kill()
        other.wait()
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    job.refresh_from_db()
    assert job.status == "cancelled"


def test_a_cancel_asked_of_a_live_job_whose_worker_then_died_ends_it_when_claimed(profile, drop):
    """Asked to stop while its worker held it, the worker died before the next batch: the
    worker that claims the job once the lease ran out ends it cancelled, loading nothing."""
    seven_users(drop)
    job = job_create(profile=profile, kind="synchronize")
    held_by(job, "another-host:1", lease_until=timezone.now() + lease_length())
    asked = job_cancel(job=job, actor="desk")
    assert (asked.status, asked.cancel_requested_by) == ("running", "desk")

    Job.objects.filter(pk=job.pk).update(lease_until=the_past())  # the worker never came back
    [ended] = jobs_run_pending()
    assert ended.status == "cancelled"
    assert "Cancelled by desk before it resumed" in ended.log
    assert not Patron.objects.exists()


@pytest.mark.parametrize("value", ["0", "-5", "ten", "1.5"])
def test_a_lease_length_that_is_not_a_whole_number_of_seconds_is_refused(monkeypatch, value):
    monkeypatch.setenv("PATRONSYNC_JOB_LEASE_SECONDS", value)
    with pytest.raises(ImproperlyConfigured, match="PATRONSYNC_JOB_LEASE_SECONDS"):
        lease_length()


def test_the_lease_length_comes_from_the_environment(monkeypatch):
    assert lease_length() == timedelta(seconds=600)
    monkeypatch.setenv("PATRONSYNC_JOB_LEASE_SECONDS", "45")
    assert lease_length() == timedelta(seconds=45)
