"""The report page of a job the mass-change guard held: its plan, Approve and Reject, by role."""

from __future__ import annotations

import pytest

from patronsync.accounts.choices import StaffRole
from patronsync.jobs.models import Job
from patronsync.jobs.services import profile_run
from patronsync.loader.tests.conftest import make_profile, user_xml, users_doc, write_zip

pytestmark = pytest.mark.django_db


def feed(drop, name, count, last="Lovelace"):
    users = (user_xml(f"u{n}", last=last) for n in range(count))
    write_zip(drop / "synchronize" / name, {"users.xml": users_doc(*users)})


@pytest.fixture
def held(institution, drop):
    profile = make_profile(institution, drop)
    feed(drop, "day1.zip", 20)
    assert profile_run(profile=profile, kind="synchronize").status == "completed"
    feed(drop, "day2.zip", 2, last="Byron")
    job = profile_run(profile=profile, kind="synchronize")
    assert job.status == "held"
    return job


def test_the_report_of_a_held_job_says_why_and_offers_approve_and_reject(client, staff, held):
    client.force_login(staff(held.institution, StaffRole.GENERAL_SYSTEM_ADMINISTRATOR))
    page = client.get(f"/jobs/{held.pk}/").content.decode()
    assert "Mass-change guard" in page
    assert "fewer than 80 % of the 20 users of the last complete run" in page
    assert "Nothing was applied" in page
    assert 'id="approve-plan"' in page
    assert 'id="reject-plan"' in page


@pytest.mark.parametrize("role", [StaffRole.USER_MANAGER, StaffRole.VIEWER])
def test_other_roles_see_the_plan_without_the_buttons_and_may_not_post(client, staff, held, role):
    client.force_login(staff(held.institution, role))
    page = client.get(f"/jobs/{held.pk}/").content.decode()
    assert "Mass-change guard" in page
    assert 'id="approve-plan"' not in page
    for action in ("approve", "reject"):
        assert client.post(f"/jobs/{held.pk}/{action}/").status_code == 403
    assert Job.objects.get(pk=held.pk).status == "held"


def test_anonymous_is_sent_to_the_login_page(client, held):
    for action in ("approve", "reject"):
        response = client.post(f"/jobs/{held.pk}/{action}/")
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")


def test_another_institutions_administrator_gets_404(client, staff, held, other_institution):
    client.force_login(staff(other_institution, StaffRole.GENERAL_SYSTEM_ADMINISTRATOR))
    for action in ("approve", "reject"):
        assert client.post(f"/jobs/{held.pk}/{action}/").status_code == 404


def test_approve_sends_the_job_back_for_a_worker_and_says_so(client, staff, held):
    account = staff(held.institution, StaffRole.GENERAL_SYSTEM_ADMINISTRATOR)
    client.force_login(account)
    response = client.post(f"/jobs/{held.pk}/approve/", follow=True)
    assert "approved: its plan is applied as soon as a worker takes it" in (
        response.content.decode()
    )
    job = Job.objects.get(pk=held.pk)
    assert (job.status, job.decision, job.decided_by) == (
        "pending", "approved", account.get_username()
    )  # fmt: skip


def test_reject_ends_it_with_nothing_applied_and_shows_who(client, staff, held):
    account = staff(held.institution, StaffRole.GENERAL_SYSTEM_ADMINISTRATOR)
    client.force_login(account)
    page = client.post(f"/jobs/{held.pk}/reject/", follow=True).content.decode()
    assert "rejected: nothing was applied" in page
    assert f"Rejected by {account.get_username()}" in page
    assert Job.objects.get(pk=held.pk).status == "cancelled"
    # a second decision is refused, said on the page
    page = client.post(f"/jobs/{held.pk}/approve/", follow=True).content.decode()
    assert "only a held job can be approved" in page
