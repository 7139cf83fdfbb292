"""Purge User Records and re-posting through the API: POST /profiles/{code}/purge (202, run by a
worker), GET /jobs/{id}/rejected.zip (who may download it)."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import pytest

from patronsync.cli import main
from patronsync.jobs.choices import JobKind
from patronsync.jobs.models import Job
from patronsync.jobs.services import profile_run
from patronsync.loader.tests.conftest import user_xml, users_doc, write_zip
from patronsync.patrons.models import Patron
from patronsync.patrons.tests.factories import patron_factory

from .conftest import key_client

pytestmark = pytest.mark.django_db


def past_purge_date(institution, primary_id):
    when = (dt.date.today() - dt.timedelta(days=10)).isoformat() + "Z"
    return patron_factory(institution, primary_id=primary_id, purge_date=when)


def test_purge_answers_202_and_a_worker_runs_it(admin_api, profile, institution):
    profile.sync_guard = {"enabled": False}
    profile.save(update_fields=["sync_guard"])
    past_purge_date(institution, "gone1")
    response = admin_api.post("/api/v1/profiles/SIS/purge", {"dry_run": True}, format="json")
    assert response.status_code == 202, response.content
    accepted = response.json()
    assert accepted["kind"] == "purge"
    assert accepted["dry_run"] is True
    assert response["Location"] == accepted["url"]
    assert main(["worker", "--once"]) == 0
    report = admin_api.get(accepted["url"]).json()
    assert report["status"] == "completed"
    assert report["purge"]["would_purge"] == 1
    assert report["purge"]["settings"]["keep"] == "remove"
    assert Patron.objects.filter(primary_id="gone1").exists()

    response = admin_api.post(
        "/api/v1/profiles/SIS/purge", {"from_dry_run": accepted["job_id"]}, format="json"
    )
    assert response.status_code == 202, response.content
    assert main(["worker", "--once"]) == 0
    report = admin_api.get(response.json()["url"]).json()
    assert report["purge"]["purged"] == 1
    assert report["purge"]["applied_as"] == "exact"
    assert report["purge"]["from_dry_run"] == accepted["job_id"]
    assert not Patron.objects.filter(primary_id="gone1").exists()


def test_purge_refuses_a_from_dry_run_that_is_not_one_naming_it(admin_api, profile):
    profile.sync_guard = {"enabled": False}
    profile.save(update_fields=["sync_guard"])
    response = admin_api.post("/api/v1/profiles/SIS/purge", {"dry_run": False}, format="json")
    live = response.json()["job_id"]
    assert main(["worker", "--once"]) == 0
    response = admin_api.post("/api/v1/profiles/SIS/purge", {"from_dry_run": live}, format="json")
    assert response.status_code == 400
    assert "not a purge dry run" in response.json()["from_dry_run"][0]
    response = admin_api.post("/api/v1/profiles/SIS/purge", {"from_dry_run": 999}, format="json")
    assert response.status_code == 400
    assert "from_dry_run" in response.json()


def test_purge_answers_409_while_a_job_of_the_profile_is_pending(admin_api, profile):
    assert admin_api.post("/api/v1/profiles/SIS/purge", {}, format="json").status_code == 202
    response = admin_api.post("/api/v1/profiles/SIS/purge", {}, format="json")
    assert response.status_code == 409


def test_only_administrators_and_write_keys_may_purge(
    manager_api, viewer_api, other_admin_api, ro_key, rw_key, profile
):
    for client in (manager_api, viewer_api):
        assert client.post("/api/v1/profiles/SIS/purge", {}, format="json").status_code == 403
    assert other_admin_api.post("/api/v1/profiles/SIS/purge", {}, format="json").status_code == 404
    response = key_client(ro_key).post("/api/v1/profiles/SIS/purge", {}, format="json")
    assert response.status_code == 403
    response = key_client(rw_key).post("/api/v1/profiles/SIS/purge", {}, format="json")
    assert response.status_code == 202
    assert not Job.objects.exclude(kind=JobKind.PURGE).exists()


@pytest.fixture
def rejecting_job(profile, drop):
    feed = users_doc(user_xml("r1", group="NOSUCHGROUP"), user_xml("ok1"))
    write_zip(drop / "synchronize" / "students.zip", {"students.xml": feed})
    job = profile_run(profile=profile, kind=JobKind.SYNCHRONIZE)
    assert job.rejected == 1
    return job


def test_rejected_zip_holds_the_rejected_users(admin_api, rejecting_job):
    response = admin_api.get(f"/api/v1/jobs/{rejecting_job.pk}/rejected.zip")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert (
        f"rejected-users-of-job-{rejecting_job.process_id}.zip" in (response["Content-Disposition"])
    )
    assert response["X-Patronsync-Users"] == "1"
    data = b"".join(response.streaming_content)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        (xml,) = [archive.read(name) for name in archive.namelist()]
    assert b"<primary_id>r1</primary_id>" in xml
    assert b"ok1" not in xml


def test_rejected_zip_is_for_administrators_and_write_keys_only(
    manager_api, viewer_api, other_admin_api, ro_key, rw_key, rejecting_job
):
    url = f"/api/v1/jobs/{rejecting_job.pk}/rejected.zip"
    assert manager_api.get(url).status_code == 403
    assert viewer_api.get(url).status_code == 403
    assert other_admin_api.get(url).status_code == 404
    assert key_client(ro_key).get(url).status_code == 403
    assert key_client(rw_key).get(url).status_code == 200
