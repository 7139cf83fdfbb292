"""The mass-change guard through the API: a held job's report, approve and reject, by role."""

from __future__ import annotations

import pytest

from patronsync.jobs.models import Job
from patronsync.jobs.runner import jobs_run_pending
from patronsync.jobs.services import profile_run
from patronsync.loader.tests.conftest import make_profile, user_xml, users_doc, write_zip
from patronsync.patrons.models import Patron

from .conftest import key_client

pytestmark = pytest.mark.django_db


def feed(drop, name, count, last="Lovelace"):
    users = (user_xml(f"u{n}", last=last) for n in range(count))
    write_zip(drop / "synchronize" / name, {"users.xml": users_doc(*users)})


@pytest.fixture
def held(institution, drop):
    """A job held by the guard: 20 users loaded, then a feed of 2 (under 80 %)."""
    profile = make_profile(institution, drop)
    feed(drop, "day1.zip", 20)
    assert profile_run(profile=profile, kind="synchronize").status == "completed"
    feed(drop, "day2.zip", 2, last="Byron")
    job = profile_run(profile=profile, kind="synchronize")
    assert job.status == "held"
    return job


def test_a_held_job_shows_its_plan_and_what_it_crossed(admin_api, held):
    body = admin_api.get(f"/api/v1/jobs/{held.pk}").json()
    assert body["status"] == "held"
    assert body["guard"]["plan"]["counts"]["feed_users"] == 2
    [crossed] = body["guard"]["crossed"]
    assert crossed["threshold"] == "feed_size"
    assert "fewer than 80 %" in crossed["message"]


def test_a_gsa_approves_and_the_worker_applies_the_plan(admin_api, held):
    response = admin_api.post(f"/api/v1/jobs/{held.pk}/approve")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["status"], body["decision"]) == ("pending", "approved")
    assert body["decided_by"]
    assert body["decided_at"]
    [done] = jobs_run_pending()
    assert done.status == "completed"
    assert Patron.objects.filter(last_name="Byron").count() == 2
    assert admin_api.get(f"/api/v1/jobs/{held.pk}").json()["guard"]["applied"]["as"] == "exact"


def test_a_users_write_key_rejects_and_nothing_is_applied(held, rw_key):
    response = key_client(rw_key).post(f"/api/v1/jobs/{held.pk}/reject")
    assert response.status_code == 200, response.json()
    assert (response.json()["status"], response.json()["decision"]) == ("cancelled", "rejected")
    assert not Patron.objects.filter(last_name="Byron").exists()


def test_a_users_write_key_may_approve(held, rw_key):
    response = key_client(rw_key).post(f"/api/v1/jobs/{held.pk}/approve")
    assert response.status_code == 200, response.json()


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_a_viewer_a_manager_and_a_read_only_key_may_not_decide(
    viewer_api, manager_api, ro_key, held, action
):
    for client in (viewer_api, manager_api, key_client(ro_key)):
        assert client.post(f"/api/v1/jobs/{held.pk}/{action}").status_code == 403
    assert Job.objects.get(pk=held.pk).status == "held"


def test_another_institutions_admin_gets_404(other_admin_api, held):
    assert other_admin_api.post(f"/api/v1/jobs/{held.pk}/approve").status_code == 404


def test_a_run_while_held_answers_409_naming_the_held_job(admin_api, held):
    response = admin_api.post("/api/v1/jobs", {"profile": "SIS", "kind": "synchronize"})
    assert response.status_code == 409
    assert f"job {held.pk}" in response.json()["detail"]
    assert "held for approval" in response.json()["detail"]


def test_approving_a_plan_whose_file_is_gone_answers_409_saying_so(admin_api, held, drop):
    (drop / "synchronize" / "day2.zip").unlink()
    response = admin_api.post(f"/api/v1/jobs/{held.pk}/approve")
    assert response.status_code == 409
    assert "day2.zip is no longer in synchronize" in response.json()["detail"]


def test_rejecting_a_job_that_is_not_held_answers_409(admin_api, held):
    admin_api.post(f"/api/v1/jobs/{held.pk}/reject")
    response = admin_api.post(f"/api/v1/jobs/{held.pk}/reject")
    assert response.status_code == 409
    assert "only a held job can be rejected" in response.json()["detail"]
