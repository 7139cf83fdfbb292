"""Feeds that hurt, through whole jobs: what a hostile or careless feed file may make a job store
or print stays bounded, readable and located."""

from __future__ import annotations

import json
import zipfile

import pytest

from patronsync.cli import main
from patronsync.core.text import LOG_LINE_CHARS, REASON_CHARS
from patronsync.jobs.models import Job, JobRecord
from patronsync.jobs.services import profile_run
from patronsync.loader.tests.conftest import user_xml, users_doc, write_zip

pytestmark = pytest.mark.django_db


def sync(profile):
    return profile_run(profile=profile, kind="synchronize")


def drop_feed(drop, name, text):
    return write_zip(drop / "synchronize" / name, {"users.xml": text})


def test_a_zip_of_thousands_of_non_xml_entries_is_refused_with_one_short_problem(profile, drop):
    with zipfile.ZipFile(drop / "synchronize" / "junk.zip", "w") as zf:
        zf.writestr("users.xml", users_doc(user_xml("u1")))
        for i in range(5_000):
            zf.writestr(f"{i:06d}.txt", b"")
    job = sync(profile)
    assert (job.status, job.created) == ("completed_with_errors", 0)
    [entry] = job.files
    assert entry["users"] == 0
    assert [p["code"] for p in entry["problems"]] == ["ZIP_TOO_MANY_ENTRIES"]
    assert entry["problems"][0]["message"] == (
        "Could not parse file junk.zip: zip holds 5,001 entries, over the limit of 50: every "
        "entry counts, XML or not, folders included (Alma's limit); zip refused"
    )
    assert len(json.dumps(job.files)) < 1_000  # the refused zip's names are not kept


def test_a_900_kb_attribute_value_is_cut_in_the_rejection_reason(profile, drop):
    huge = user_xml("u2").replace('preferred="true"', f'preferred="{"y" * 900_000}"')
    drop_feed(drop, "day1.zip", users_doc(user_xml("u1"), huge))
    job = sync(profile)
    assert (job.created, job.rejected) == (1, 1)
    [record] = JobRecord.objects.filter(job=job, outcome="rejected")
    assert record.reason_code == "VALUE_NOT_A_BOOLEAN"
    assert len(record.reason) <= REASON_CHARS
    assert "attribute preferred='yyy" in record.reason
    assert record.reason.endswith(" more characters]")


def test_a_primary_id_that_looks_like_markup_is_printed_by_run_and_report(profile, drop, capsys):
    drop_feed(drop, "day1.zip", users_doc(user_xml("[/]"), user_xml("[/]")))  # one is rejected
    assert main(["run", "SIS", "--synchronize"]) == 4  # completed with errors: one rejected
    out = capsys.readouterr().out
    assert "Rejected users" in out
    job = Job.objects.get()
    assert job.rejected == 1
    assert main(["report", str(job.id)]) == 0
    again = capsys.readouterr().out
    assert "[/]" in again
    assert "Rejected users" in again


def test_an_undefined_entity_is_reported_with_its_name_line_and_user(profile, drop):
    text = users_doc(user_xml("u1"), user_xml("bb", last="Ana&nbsp;Lopez"), user_xml("u3"))
    drop_feed(drop, "day1.zip", text)
    job = sync(profile)
    assert (job.status, job.created) == ("completed_with_errors", 1)
    [problem] = job.files[0]["problems"]
    assert problem["code"] == "XML_NOT_WELL_FORMED"
    assert problem["line"] == 4
    assert problem["message"].startswith(
        "Could not parse file day1.zip (entry users.xml, line 4, in user with primary ID bb): "
        "not well-formed XML: undefined entity &nbsp; "
    )


def test_a_file_level_error_names_the_user_being_read(profile, drop):
    text = users_doc(user_xml("u1"), user_xml("u2"), user_xml("u3"))
    cut = text.index("<last_name>", text.index("u2"))
    drop_feed(drop, "day1.zip", text[:cut])
    job = sync(profile)
    assert job.created == 1
    [problem] = job.files[0]["problems"]
    assert problem["message"].startswith(
        "Could not parse file day1.zip (entry users.xml, line 4, in user with primary ID u2): "
        "not well-formed XML: "
    )


def test_a_log_line_naming_many_files_is_cut_with_a_mark(profile, drop):
    """Files over Alma's 20 a run are named in one line, and names are long."""
    for n in range(100):
        drop_feed(drop, f"{n:03d}{'x' * 237}.zip", users_doc())
    job = sync(profile)
    lines = job.log.splitlines()
    [skipped] = [line for line in lines if "left for the next run" in line]
    assert len(skipped) <= LOG_LINE_CHARS
    assert skipped.endswith(" more characters]")
    assert max(len(line) for line in lines) <= LOG_LINE_CHARS
