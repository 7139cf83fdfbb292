"""Jobs through the API: start (a worker runs it), dry run, list, report, cancel, approve."""

from __future__ import annotations

import pytest
from django.utils import timezone

from patronsync.cli import main
from patronsync.jobs.models import Job
from patronsync.jobs.services import job_create
from patronsync.loader.tests.conftest import user_xml, users_doc, write_zip
from patronsync.patrons.models import Patron

pytestmark = pytest.mark.django_db


@pytest.fixture
def feed(drop):
    """A synchronize feed of two good users and one without a primary ID."""
    users = users_doc(user_xml("s1001"), user_xml("s1002", first="Grace"), user_xml(None))
    return write_zip(drop / "synchronize" / "students.zip", {"students.xml": users})


def run_worker() -> None:
    """What a worker host does until jobs are scheduled: `patronsync worker --once`."""
    assert main(["worker", "--once"]) == 0


def test_start_answers_202_with_the_job_url_and_runs_nothing_in_the_web_process(
    admin_api, profile, feed
):
    response = admin_api.post("/api/v1/profiles/SIS/run", {"kind": "synchronize"}, format="json")
    assert response.status_code == 202, response.content
    accepted = response.json()
    assert accepted["status"] == "pending"
    assert accepted["url"] == f"http://testserver/api/v1/jobs/{accepted['job_id']}"
    assert response["Location"] == accepted["url"]
    assert not Patron.objects.exists()
    assert feed.exists()  # nothing was taken: a worker runs the job

    run_worker()
    report = admin_api.get(accepted["url"]).json()
    assert report["report"] == "Patron Import Results"
    assert report["status"] == "completed_with_errors"
    assert report["dry_run"] is False
    assert report["created"] == 2
    assert report["rejected"] == 1
    assert report["total_users_processed"] == 3
    assert report["rejected_users"][0]["reason_code"]
    assert Patron.objects.count() == 2
    job = Job.objects.get(pk=accepted["job_id"])
    assert job.trigger == "api"


def test_dry_run_reports_what_would_change_and_writes_nothing(admin_api, profile, feed):
    response = admin_api.post(
        "/api/v1/jobs",
        {"profile": "SIS", "kind": "synchronize", "dry_run": True},
        format="json",
    )
    assert response.status_code == 202, response.content
    run_worker()
    report = admin_api.get(response["Location"]).json()
    assert report["dry_run"] is True
    assert report["total_users_processed"] == 3
    assert not Patron.objects.exists()
    assert feed.exists()  # the file is left for the live run


def test_start_answers_409_while_a_job_of_the_profile_waits_for_a_worker(admin_api, profile):
    first = admin_api.post("/api/v1/jobs", {"profile": "SIS", "kind": "synchronize"})
    assert first.status_code == 202
    second = admin_api.post("/api/v1/jobs", {"profile": "SIS", "kind": "synchronize"})
    assert second.status_code == 409
    assert f"Process ID {first.json()['process_id']}) is pending" in second.json()["detail"]
    assert Job.objects.count() == 1


def test_report_of_a_file_dropped_again_names_the_file_and_job_it_repeats(admin_api, profile, feed):
    first = admin_api.post("/api/v1/jobs", {"profile": "SIS", "kind": "synchronize"}).json()
    run_worker()
    feed.with_name("students.zip.handled").rename(feed.with_name("students-again.zip"))
    again = admin_api.post("/api/v1/jobs", {"profile": "SIS", "kind": "synchronize"})
    run_worker()
    report = admin_api.get(again["Location"]).json()
    [entry] = report["files"]
    assert entry["name"] == "students-again.zip"
    assert entry["users"] == 3
    assert entry["repeats"] == {
        "file": "students.zip",
        "job_id": first["job_id"],
        "process_id": first["process_id"],
    }
    assert (report["unchanged"], report["rejected"]) == (2, 1)
    assert any("students-again.zip: same content as students.zip" in line for line in report["log"])


def test_start_answers_409_while_a_job_of_the_profile_runs(admin_api, profile, feed):
    running = job_create(profile=profile, kind="synchronize")
    running.start(worker="another-host:4242")
    running.heartbeat_at = timezone.now()
    running.save()
    response = admin_api.post("/api/v1/jobs", {"profile": "SIS", "kind": "synchronize"})
    assert response.status_code == 409
    assert "already" in response.json()["detail"] or "running" in response.json()["detail"]
    assert not Patron.objects.exists()


def test_start_of_an_unknown_profile_is_404(admin_api, profile):
    response = admin_api.post("/api/v1/jobs", {"profile": "NOPE", "kind": "import"})
    assert response.status_code == 404


def test_jobs_are_listed_with_filters_and_read_as_reports(admin_api, profile, feed):
    admin_api.post("/api/v1/profiles/SIS/run", {"kind": "synchronize", "dry_run": True})
    run_worker()
    admin_api.post("/api/v1/profiles/SIS/run", {"kind": "import"})
    run_worker()
    jobs = admin_api.get("/api/v1/jobs").json()
    assert jobs["count"] == 2
    assert [j["kind"] for j in jobs["results"]] == ["import", "synchronize"]
    assert admin_api.get("/api/v1/jobs?kind=import").json()["count"] == 1
    assert admin_api.get("/api/v1/jobs?profile=SIS&status=completed").json()["count"] == 1
    assert admin_api.get("/api/v1/jobs?profile=OTHER").json()["count"] == 0
    assert admin_api.get("/api/v1/jobs?status=bogus").status_code == 400

    job_id = jobs["results"][1]["id"]
    report = admin_api.get(f"/api/v1/jobs/{job_id}").json()
    assert report["job_id"] == job_id
    assert report["total_users_processed"] == 3
    assert admin_api.get("/api/v1/jobs/999999").status_code == 404


def test_pending_job_is_cancelled_with_a_log_line(admin_api, profile):
    job = job_create(profile=profile, kind="import")
    response = admin_api.post(f"/api/v1/jobs/{job.pk}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    job.refresh_from_db()
    assert "Cancelled by admin" in job.log
    assert job.finished_at is not None
    again = admin_api.post(f"/api/v1/jobs/{job.pk}/cancel")
    assert again.status_code == 409


def test_running_job_is_asked_to_stop(admin_api, profile):
    job = job_create(profile=profile, kind="import")
    job.start(worker="another-host:1")
    job.save()
    response = admin_api.post(f"/api/v1/jobs/{job.pk}/cancel")
    assert response.status_code == 200
    job.refresh_from_db()
    assert job.status == "running"  # it stops after the batch it is committing
    assert job.cancel_requested_by == "admin"
    assert "Cancel requested by admin" in job.log


def test_viewer_cannot_cancel(viewer_api, profile):
    job = job_create(profile=profile, kind="import")
    assert viewer_api.post(f"/api/v1/jobs/{job.pk}/cancel").status_code == 403
    job.refresh_from_db()
    assert job.status == "pending"


def test_approve_answers_409_for_a_job_that_is_not_held(admin_api, profile):
    job = job_create(profile=profile, kind="import")
    response = admin_api.post(f"/api/v1/jobs/{job.pk}/approve")
    assert response.status_code == 409
    assert "only a held job can be approved" in response.json()["detail"]
