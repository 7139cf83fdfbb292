"""Re-post: a job's rejected users as a valid Alma User XML zip, exactly as the feed sent them,
that loads once the cause is fixed."""

from __future__ import annotations

import io
import zipfile

import pytest

from patronsync.cli import main
from patronsync.core.choices import CodeTableName
from patronsync.core.services import code_table_entry_declare
from patronsync.jobs.choices import JobKind, JobStatus
from patronsync.jobs.models import JobRecord
from patronsync.jobs.repost import job_rejected_zip_file, job_rejected_zip_name
from patronsync.jobs.services import profile_run
from patronsync.loader.tests.conftest import user_xml, users_doc, write_zip
from patronsync.patrons.models import Patron

pytestmark = pytest.mark.django_db

REJECTED = (
    user_xml("s2001", group="SUMMERSCHOOL", first="Zoë"),
    user_xml("s2002", group="SUMMERSCHOOL", extra="<pin_number>1234</pin_number>"),
)
LOADED = (user_xml("s2000"),)


@pytest.fixture
def rejecting_job(profile, drop):
    """A Synchronize of four users, two of them in user group SUMMERSCHOOL, which the code table
    lacks: those two are rejected."""
    feed = users_doc(LOADED[0], REJECTED[0], user_xml("s2003", first="Bob"), REJECTED[1])
    write_zip(drop / "synchronize" / "students.zip", {"students.xml": feed})
    job = profile_run(profile=profile, kind=JobKind.SYNCHRONIZE)
    assert job.status == JobStatus.COMPLETED_WITH_ERRORS
    assert job.rejected == 2
    return job


def zip_members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_the_zip_holds_exactly_the_rejected_users_as_the_feed_sent_them(rejecting_job):
    spool, users = job_rejected_zip_file(job=rejecting_job)
    members = zip_members(spool.read())
    assert users == 2
    assert list(members) == [f"rejected-users-of-job-{rejecting_job.process_id}.xml"]
    xml = next(iter(members.values()))
    for element in REJECTED:
        assert element.encode() in xml  # byte for byte, the PIN as it was sent
    assert b"s2000" not in xml
    assert b"s2003" not in xml
    assert job_rejected_zip_name(job=rejecting_job).endswith(".zip")


def test_the_zip_is_a_valid_feed_and_loads_once_the_cause_is_fixed(
    rejecting_job, profile, drop, tmp_path, capsys
):
    out = tmp_path / "again.zip"
    assert main(["job", "rejected", str(rejecting_job.pk), "-o", str(out)]) == 0
    assert "2 rejected users" in capsys.readouterr().out
    assert main(["feed", "validate", "--strict", str(out)]) == 0
    assert not Patron.objects.filter(primary_id__in=["s2001", "s2002"]).exists()
    code_table_entry_declare(
        institution=profile.institution,
        table=CodeTableName.USER_GROUPS,
        code="SUMMERSCHOOL",
        values={"description": "Summer school", "enabled": True},
    )
    (drop / "synchronize" / "again.zip").write_bytes(out.read_bytes())
    # Two users after a feed of four is a feed the guard holds (under 80 % of the last run):
    # not what this test is about (docs/jobs.md says to approve it, or to use Run again).
    profile.sync_guard = {"enabled": False}
    profile.save(update_fields=["sync_guard"])
    job = profile_run(profile=profile, kind=JobKind.SYNCHRONIZE)
    assert job.status == JobStatus.COMPLETED, job.log
    assert job.created == 2
    assert job.rejected == 0
    loaded = Patron.objects.get(primary_id="s2001")
    assert (loaded.first_name, loaded.user_group) == ("Zoë", "SUMMERSCHOOL")
    assert Patron.objects.get(primary_id="s2002").pin_hash  # the PIN came along


def test_cli_rejected_refuses_an_unknown_job_and_a_name_that_is_not_a_zip(rejecting_job, tmp_path):
    assert main(["job", "rejected", "999999", "-o", str(tmp_path / "x.zip")]) == 2
    assert main(["job", "rejected", str(rejecting_job.pk), "-o", str(tmp_path / "x.xml")]) == 2
    assert not (tmp_path / "x.xml").exists()


def test_records_without_kept_xml_are_counted_not_zipped(rejecting_job, tmp_path, capsys):
    JobRecord.objects.filter(job=rejecting_job, primary_id="s2002").update(raw_xml=None)
    out = tmp_path / "again.zip"
    assert main(["job", "rejected", str(rejecting_job.process_id), "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert "1 rejected user of job" in captured.out
    assert "1 rejected users kept no XML" in captured.err
    xml = next(iter(zip_members(out.read_bytes()).values()))
    assert b"s2001" in xml
    assert b"s2002" not in xml
