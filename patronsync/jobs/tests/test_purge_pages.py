"""The Purge User Records page, the rejected users' zip download, and their links on the profile
and report pages: who may see and use each."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import pytest

from patronsync.accounts.choices import StaffRole
from patronsync.core.choices import CodeTableName
from patronsync.core.services import code_table_entry_declare
from patronsync.jobs.choices import JobKind, JobStatus, RecordOutcome
from patronsync.jobs.models import Job
from patronsync.jobs.purge import profile_purge_start
from patronsync.jobs.runner import job_run
from patronsync.jobs.services import profile_run
from patronsync.loader.tests.conftest import user_xml, users_doc, write_zip
from patronsync.patrons.models import Patron
from patronsync.patrons.tests.factories import patron_factory

pytestmark = pytest.mark.django_db

GSA = StaffRole.GENERAL_SYSTEM_ADMINISTRATOR
ROLES_REFUSED = (StaffRole.USER_MANAGER, StaffRole.VIEWER)


@pytest.fixture
def due(institution, profile):
    profile.sync_guard = {"enabled": False}
    profile.save(update_fields=["sync_guard"])
    when = (dt.date.today() - dt.timedelta(days=3)).isoformat() + "Z"
    return patron_factory(institution, primary_id="leaver1", purge_date=when)


def purge_url(profile):
    return f"/jobs/purge/{profile.pk}/"


def test_anonymous_is_sent_to_login(client, profile, due):
    for response in (client.get(purge_url(profile)), client.post(purge_url(profile), {})):
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")


def test_the_page_lists_the_settings_and_the_users_due_today(
    client, staff, institution, profile, due
):
    profile.purge = {"days_after_purge_date": 1, "keep": "anonymise"}
    profile.save(update_fields=["purge"])
    client.force_login(staff(institution, GSA))
    page = client.get(purge_url(profile)).content.decode()
    assert "Number of days after purge date" in page
    assert "keep an anonymised row" in page
    assert '<dd id="purge-due">1</dd>' in page
    assert 'name="mode"' in page
    assert 'name="confirm"' in page


@pytest.mark.parametrize("role", ROLES_REFUSED)
def test_other_roles_may_not_see_or_start_a_purge(client, staff, institution, profile, due, role):
    client.force_login(staff(institution, role))
    assert client.get(purge_url(profile)).status_code == 403
    assert client.post(purge_url(profile), {"mode": "dry_run"}).status_code == 403
    assert not Job.objects.exists()


def test_another_institutions_administrator_gets_404(
    client, staff, other_institution, profile, due
):
    client.force_login(staff(other_institution, GSA))
    assert client.get(purge_url(profile)).status_code == 404
    assert client.post(purge_url(profile), {"mode": "dry_run"}).status_code == 404
    assert not Job.objects.exists()


def test_a_dry_run_starts_and_lands_on_its_report(client, staff, institution, profile, due):
    client.force_login(staff(institution, GSA))
    response = client.post(purge_url(profile), {"mode": "dry_run"})
    job = Job.objects.get(kind=JobKind.PURGE)
    assert response.status_code == 302
    assert response["Location"] == f"/jobs/{job.pk}/"
    assert job.dry_run
    assert job.status == JobStatus.PENDING
    assert job.trigger == "manual"


def test_a_live_run_needs_its_confirmation_named_beside_the_field(
    client, staff, institution, profile, due
):
    client.force_login(staff(institution, GSA))
    response = client.post(purge_url(profile), {"mode": "live"})
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="id_confirm-error"' in page
    assert "Confirmation: Confirm the live run" in page
    assert not Job.objects.exists()


def test_a_dry_runs_report_offers_to_purge_exactly_its_users(
    client, staff, institution, profile, due
):
    dry = job_run(job=profile_purge_start(profile=profile, dry_run=True))
    client.force_login(staff(institution, GSA))
    report = client.get(f"/jobs/{dry.pk}/").content.decode()
    assert "Purge Results Summary" in report
    assert 'id="purge-would"' in report
    assert f"/jobs/purge/{profile.pk}/?from_dry_run={dry.pk}" in report
    page = client.get(f"{purge_url(profile)}?from_dry_run={dry.pk}").content.decode()
    assert f'<option value="{dry.pk}" selected>' in page
    response = client.post(
        purge_url(profile), {"mode": "live", "from_dry_run": str(dry.pk), "confirm": "on"}
    )
    live = Job.objects.get(kind=JobKind.PURGE, dry_run=False)
    assert response["Location"] == f"/jobs/{live.pk}/"
    live = job_run(job=live)
    assert live.records.filter(outcome=RecordOutcome.PURGED).count() == 1
    assert not Patron.objects.filter(primary_id="leaver1").exists()
    viewer = staff(institution, StaffRole.VIEWER)
    client.force_login(viewer)
    report = client.get(f"/jobs/{dry.pk}/").content.decode()
    assert "from_dry_run" not in report  # the action is shown only to those who may use it


def test_profile_page_shows_purge_to_administrators_only(client, staff, institution, profile):
    client.force_login(staff(institution, GSA))
    assert purge_url(profile) in client.get(f"/config/profiles/{profile.pk}/").content.decode()
    client.force_login(staff(institution, StaffRole.USER_MANAGER))
    assert purge_url(profile) not in client.get(f"/config/profiles/{profile.pk}/").content.decode()


@pytest.fixture
def rejecting_job(profile, drop):
    feed = users_doc(user_xml("r1", group="NOSUCHGROUP"), user_xml("ok1"))
    write_zip(drop / "synchronize" / "students.zip", {"students.xml": feed})
    job = profile_run(profile=profile, kind=JobKind.SYNCHRONIZE)
    assert job.rejected == 1
    return job


def test_rejected_zip_download_and_its_links_for_administrators(
    client, staff, institution, rejecting_job
):
    client.force_login(staff(institution, GSA))
    report = client.get(f"/jobs/{rejecting_job.pk}/").content.decode()
    assert f"/jobs/{rejecting_job.pk}/rejected.zip" in report  # re-post's first half
    assert f"/jobs/{rejecting_job.pk}/run-again/" not in report  # not until the cause is fixed
    code_table_entry_declare(
        institution=institution,
        table=CodeTableName.USER_GROUPS,
        code="NOSUCHGROUP",
        values={"description": "Now known", "enabled": True},
    )
    report = client.get(f"/jobs/{rejecting_job.pk}/").content.decode()
    assert f"/jobs/{rejecting_job.pk}/rejected.zip" in report  # re-post's first half
    assert f"/jobs/{rejecting_job.pk}/run-again/" in report  # and its second
    response = client.get(f"/jobs/{rejecting_job.pk}/rejected.zip")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))) as archive:
        (xml,) = [archive.read(name) for name in archive.namelist()]
    assert b"<primary_id>r1</primary_id>" in xml
    assert b"ok1" not in xml


@pytest.mark.parametrize("role", ROLES_REFUSED)
def test_rejected_zip_is_refused_to_other_roles_and_not_linked(
    client, staff, institution, rejecting_job, role
):
    client.force_login(staff(institution, role))
    assert (
        f"/jobs/{rejecting_job.pk}/rejected.zip"
        not in client.get(f"/jobs/{rejecting_job.pk}/").content.decode()
    )
    assert client.get(f"/jobs/{rejecting_job.pk}/rejected.zip").status_code == 403


def test_rejected_zip_of_another_institution_or_anonymous(
    client, staff, other_institution, rejecting_job
):
    response = client.get(f"/jobs/{rejecting_job.pk}/rejected.zip")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    client.force_login(staff(other_institution, GSA))
    assert client.get(f"/jobs/{rejecting_job.pk}/rejected.zip").status_code == 404


def test_a_held_purge_is_approved_from_its_report(client, staff, institution, profile, due):
    profile.sync_guard = {"max_leavers": 0, "max_leavers_percent": 0}
    profile.save(update_fields=["sync_guard"])
    job = job_run(job=profile_purge_start(profile=profile))
    assert job.status == JobStatus.HELD
    client.force_login(staff(institution, GSA))
    report = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "Plan: 1 users to purge" in report
    assert f"/jobs/{job.pk}/approve/" in report
    assert client.post(f"/jobs/{job.pk}/approve/").status_code == 302
    job = job_run(job=Job.objects.get(pk=job.pk))
    assert job.status == JobStatus.COMPLETED
    assert not Patron.objects.filter(primary_id="leaver1").exists()
