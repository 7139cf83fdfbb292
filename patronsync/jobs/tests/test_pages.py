"""The job pages: list, report with records, CSV download; per institution."""

from __future__ import annotations

import csv
import io

import pytest

from patronsync.accounts.choices import StaffRole
from patronsync.accounts.services import staff_create
from patronsync.jobs.services import profile_run
from patronsync.loader.tests.conftest import make_profile, user_xml, users_doc, write_zip

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(institution, tmp_path):
    (tmp_path / "synchronize").mkdir()
    (tmp_path / "import").mkdir()
    profile = make_profile(institution, tmp_path, unmatched="REJECT")
    write_zip(tmp_path / "synchronize" / "a.zip", {"u.xml": users_doc(user_xml("nobody"))})
    return profile_run(profile=profile, kind="synchronize")


def login(client, institution, role=StaffRole.VIEWER, name="viewer"):
    user = staff_create(
        username=name, password="a long password 1", memberships={institution: role}
    )
    client.force_login(user)


def test_viewer_reads_the_report_with_rejected_users(client, institution, job):
    login(client, institution)
    assert "Users SYNCHRONIZE using profile" in client.get("/jobs/").content.decode()
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "Patron Import Results" in page
    assert job.process_id in page
    assert "rejects unmatched records" in page


def test_records_download_as_csv(client, institution, job):
    login(client, institution)
    response = client.get(f"/jobs/{job.pk}/records.csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["match_value"], r["outcome"], r["reason_code"]) for r in rows] == [
        ("nobody", "rejected", "UNMATCHED")
    ]


def test_records_download_neutralizes_formulas(client, institution, tmp_path):
    for folder in ("synchronize", "import"):
        (tmp_path / folder).mkdir()
    profile = make_profile(institution, tmp_path, unmatched="REJECT")
    feed = users_doc(user_xml("=HYPERLINK(1)"))
    write_zip(tmp_path / "synchronize" / "a.zip", {"u.xml": feed})
    job = profile_run(profile=profile, kind="synchronize")
    login(client, institution)
    response = client.get(f"/jobs/{job.pk}/records.csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["match_value"] for r in rows] == ["'=HYPERLINK(1)"]


def test_jobs_of_another_institution_are_not_shown(client, institution, other_institution, job):
    login(client, other_institution, name="outsider")
    assert client.get(f"/jobs/{job.pk}/").status_code == 404
    assert client.get(f"/jobs/{job.pk}/records.csv").status_code == 404
    assert job.process_id not in client.get("/jobs/").content.decode()


def test_report_page_names_the_earlier_file_a_file_dropped_again_repeats(
    client, institution, job, tmp_path
):
    (tmp_path / "synchronize" / "a.zip.handled").rename(tmp_path / "synchronize" / "b.zip")
    again = profile_run(profile=job.profile, kind="synchronize")
    login(client, institution)
    page = client.get(f"/jobs/{again.pk}/").content.decode()
    assert f"same content as a.zip (job {job.id}, Process ID {job.process_id})" in page
