"""A feed's unknown codes on the job report, adding them to the code tables from there, and
"Run again": a job that loads exactly the users an earlier job rejected, from their kept XML."""

from __future__ import annotations

import re

import pytest

from patronsync.accounts.choices import StaffRole
from patronsync.core.models import CodeTableEntry
from patronsync.core.services import code_table_entry_declare
from patronsync.jobs.exceptions import JobNotRerunnable
from patronsync.jobs.models import Job
from patronsync.jobs.rerun import job_rejected_feed, job_rejected_xml
from patronsync.jobs.runner import job_run
from patronsync.jobs.selectors import UnknownCode, job_unknown_codes
from patronsync.jobs.services import job_rerun, profile_run
from patronsync.loader import pipeline
from patronsync.loader import writer as batch_module
from patronsync.loader.tests.conftest import GUARD_OFF, make_profile, user_xml, users_doc, write_zip
from patronsync.patrons.models import Patron

pytestmark = pytest.mark.django_db

GSA = StaffRole.GENERAL_SYSTEM_ADMINISTRATOR

FEED = (
    user_xml("known1"),
    user_xml("visitor1", group="VISITOR"),
    user_xml("known2", group="FACULTY"),
    user_xml("visitor2", group="VISITOR"),
    user_xml("north1", extra="<campus_code>NORTH</campus_code>"),
    user_xml("odd1", extra="<campus_code>O'Neil (x)</campus_code>"),
)


@pytest.fixture
def first(institution, drop):
    """A Synchronize that rejects four users of six: two for an unknown user group, two for
    unknown campuses (one code holding a quote and parentheses)."""
    profile = make_profile(institution, drop, guard=GUARD_OFF)
    write_zip(drop / "synchronize" / "day1.zip", {"users.xml": users_doc(*FEED)})
    job = profile_run(profile=profile, kind="synchronize")
    assert (job.created, job.rejected) == (2, 4)
    return job


def add_code(institution, table, code):
    code_table_entry_declare(
        institution=institution, table=table, code=code, values={"description": code.title()}
    )


def primary_ids(institution):
    return sorted(
        Patron.objects.filter(institution=institution).values_list("primary_id", flat=True)
    )


def test_unknown_codes_are_listed_once_with_their_table_and_count(institution, first):
    assert job_unknown_codes(job=first) == [
        UnknownCode(table="UserGroups", code="VISITOR", users=2, state="missing"),
        UnknownCode(table="CampusList", code="NORTH", users=1, state="missing"),
        UnknownCode(table="CampusList", code="O'Neil (x)", users=1, state="missing"),
    ]


def test_unknown_codes_say_where_each_stands_now(institution, first):
    add_code(institution, "UserGroups", "VISITOR")
    code_table_entry_declare(
        institution=institution, table="CampusList", code="NORTH", values={"enabled": False}
    )
    states = {(c.table, c.code): c.state for c in job_unknown_codes(job=first)}
    assert states == {
        ("UserGroups", "VISITOR"): "present",
        ("CampusList", "NORTH"): "disabled",
        ("CampusList", "O'Neil (x)"): "missing",
    }


def test_a_job_without_unknown_codes_lists_none(institution, drop):
    profile = make_profile(institution, drop, guard=GUARD_OFF, unmatched="REJECT")
    write_zip(drop / "synchronize" / "a.zip", {"u.xml": users_doc(user_xml("nobody"))})
    job = profile_run(profile=profile, kind="synchronize")
    assert job.rejected == 1
    assert job_unknown_codes(job=job) == []


def test_each_rejected_user_keeps_its_element_as_the_feed_gave_it(institution, first):
    kept = list(job_rejected_xml(job=first))
    assert kept == [FEED[1].encode(), FEED[3].encode(), FEED[4].encode(), FEED[5].encode()]
    assert first.records.filter(outcome="created", raw_xml__isnull=False).count() == 0
    document = b"".join(job_rejected_feed(job=first))
    assert document.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<users>\n')
    assert document.count(b"<user>") == 4


def test_a_kept_element_is_stored_encrypted(institution, first):
    # The feed's element may carry a PIN or password in clear: at rest it is ciphertext.
    for stored in first.records.filter(outcome="rejected").values_list("raw_xml", flat=True):
        assert stored is not None
        assert b"<user>" not in bytes(stored)
        assert b"primary_id" not in bytes(stored)


def test_run_again_loads_exactly_the_users_the_first_job_rejected(institution, first):
    add_code(institution, "UserGroups", "VISITOR")
    rerun = job_rerun(job=first)
    assert (rerun.status, rerun.rerun_of, rerun.profile, rerun.kind) == (
        "pending",
        first,
        first.profile,
        "synchronize",
    )
    assert rerun.parameters["rerun_of"] == first.process_id
    rerun = job_run(job=rerun)
    assert (rerun.created, rerun.updated, rerun.unchanged, rerun.rejected) == (2, 0, 0, 2)
    assert primary_ids(institution) == ["known1", "known2", "visitor1", "visitor2"]
    assert Patron.objects.get(primary_id="visitor1").user_group == "VISITOR"
    assert [f["name"] for f in rerun.files] == [f"rejected-users-of-job-{first.process_id}.xml"]
    assert rerun.files[0]["rerun_of"] == {"job_id": first.id, "process_id": first.process_id}
    assert "Running again the 4 rejected users of job" in rerun.log
    # What is still unknown is listed on the re-run's report, ready for the next round.
    assert [(c.code, c.users) for c in job_unknown_codes(job=rerun)] == [
        ("NORTH", 1),
        ("O'Neil (x)", 1),
    ]
    assert list(first.reruns.all()) == [rerun]


def test_a_rerun_of_a_rerun_loads_what_the_rerun_rejected(institution, first):
    add_code(institution, "UserGroups", "VISITOR")
    second = job_run(job=job_rerun(job=first))
    add_code(institution, "CampusList", "NORTH")
    add_code(institution, "CampusList", "O'Neil (x)")
    third = job_run(job=job_rerun(job=second))
    assert (third.rerun_of, third.created, third.rejected, third.status) == (
        second,
        2,
        0,
        "completed",
    )
    assert primary_ids(institution) == [
        "known1",
        "known2",
        "north1",
        "odd1",
        "visitor1",
        "visitor2",
    ]
    with pytest.raises(JobNotRerunnable, match="no rejected users"):
        job_rerun(job=third)


def test_a_user_fixed_some_other_way_is_updated_not_created_twice(institution, drop, first):
    # The SIS corrects visitor1 and sends it again in the next feed; the group is added later.
    fixed = user_xml("visitor1", group="GRAD", last="Byron")
    write_zip(drop / "synchronize" / "day2.zip", {"users.xml": users_doc(fixed)})
    day2 = profile_run(profile=first.profile, kind="synchronize")
    assert day2.created == 1
    add_code(institution, "UserGroups", "VISITOR")
    rerun = job_run(job=job_rerun(job=first))
    assert (rerun.created, rerun.updated) == (1, 1)
    assert Patron.objects.filter(primary_id="visitor1").count() == 1
    assert primary_ids(institution) == ["known1", "known2", "visitor1", "visitor2"]


def test_the_next_run_of_the_same_file_finds_rerun_users_unchanged(institution, drop, first):
    add_code(institution, "UserGroups", "VISITOR")
    add_code(institution, "CampusList", "NORTH")
    add_code(institution, "CampusList", "O'Neil (x)")
    job_run(job=job_rerun(job=first))
    # The same export dropped again: every user is known, with the bytes it was loaded from.
    (drop / "synchronize" / "day1.zip.handled").rename(drop / "synchronize" / "again.zip")
    again = profile_run(profile=first.profile, kind="synchronize")
    assert (again.created, again.updated, again.unchanged, again.rejected) == (0, 0, 6, 0)


def test_a_dry_run_is_run_again_as_a_dry_run(institution, drop):
    profile = make_profile(institution, drop, guard=GUARD_OFF)
    write_zip(drop / "synchronize" / "a.zip", {"u.xml": users_doc(*FEED[:2])})
    dry = profile_run(profile=profile, kind="synchronize", dry_run=True)
    assert dry.rejected == 1
    add_code(institution, "UserGroups", "VISITOR")
    rerun = job_run(job=job_rerun(job=dry))
    assert rerun.dry_run
    assert rerun.created == 1
    assert Patron.objects.count() == 0


def test_an_import_runs_again_the_users_its_rules_refused(institution, drop):
    """An Import keeps the XML of users its rules refuse; one refused later (it exists
    already) kept none, which the re-run's log says."""
    profile = make_profile(institution, drop, guard=GUARD_OFF)
    write_zip(drop / "import" / "a.zip", {"u.xml": users_doc(FEED[0])})
    profile_run(profile=profile, kind="import")
    write_zip(drop / "import" / "b.zip", {"u.xml": users_doc(FEED[0], FEED[1])})
    job = profile_run(profile=profile, kind="import")
    assert sorted(job.records.filter(outcome="rejected").values_list("reason_code", flat=True)) == [
        "ALREADY_EXISTS",
        "USER_GROUP_NOT_LEGAL",
    ]
    add_code(institution, "UserGroups", "VISITOR")
    rerun = job_run(job=job_rerun(job=job))
    assert (rerun.kind, rerun.created, rerun.rejected) == ("import", 1, 0)
    assert "1 of the users job" in rerun.log
    assert "kept no XML" in rerun.log
    assert rerun.status == "completed_with_errors"  # not every rejected user could be loaded
    assert primary_ids(institution) == ["known1", "visitor1"]


def test_a_job_with_nothing_to_load_again_is_not_run_again(institution, drop):
    profile = make_profile(institution, drop, guard=GUARD_OFF)
    write_zip(drop / "synchronize" / "a.zip", {"u.xml": users_doc(FEED[0])})
    clean = profile_run(profile=profile, kind="synchronize")
    with pytest.raises(JobNotRerunnable):
        job_rerun(job=clean)
    assert not Job.objects.filter(rerun_of=clean).exists()


def test_a_running_job_is_not_run_again(institution, first):
    Job.objects.filter(pk=first.pk).update(status="running")
    first.refresh_from_db()
    with pytest.raises(JobNotRerunnable, match="once it ends"):
        job_rerun(job=first)


# The report page: the unknown codes, "Add to the code table", "Run again".


def report(client, job):
    response = client.get(f"/jobs/{job.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def test_the_report_lists_the_unknown_codes_for_every_role(client, staff, institution, first):
    for role in (StaffRole.VIEWER, StaffRole.USER_MANAGER):
        client.force_login(staff(institution, role))
        page = report(client, first)
        assert "Codes this feed uses that the code tables do not have" in page
        assert "VISITOR" in page
        assert "O&#x27;Neil (x)" in page
        assert "Add to the code table" not in page
        assert "Run again</button>" not in page


def test_the_whole_flow_from_the_report(client, staff, institution, first):
    """Add each unknown code from the report, run again, and read both reports."""
    client.force_login(staff(institution, GSA))
    page = report(client, first)
    assert page.count("Add to the code table</button>") == 3
    assert "Run again</button>" not in page  # codes are still missing
    for table, code in (
        ("UserGroups", "VISITOR"),
        ("CampusList", "NORTH"),
        ("CampusList", "O'Neil (x)"),
    ):
        response = client.post(
            "/config/code-tables/add-from-job/",
            {"job": first.pk, "table": table, "code": code, "description": f"About {code}"},
        )
        assert response.status_code == 302
        assert response["Location"] == f"/jobs/{first.pk}/#unknown-codes"
    entry = CodeTableEntry.objects.get(institution=institution, table="CampusList", code="NORTH")
    assert (entry.description, entry.enabled) == ("About NORTH", True)
    page = report(client, first)
    assert "User groups: code VISITOR added." in page
    assert "Campuses: code O&#x27;Neil (x) added." in page
    assert "Add to the code table</button>" not in page
    assert f'action="/jobs/{first.pk}/run-again/"' in page

    response = client.post(f"/jobs/{first.pk}/run-again/")
    rerun = Job.objects.get(rerun_of=first)
    assert response.status_code == 302
    assert response["Location"] == f"/jobs/{rerun.pk}/"
    assert "Running again the rejected users of job" in report(client, rerun)
    rerun = job_run(job=rerun)  # the worker's part
    assert (rerun.created, rerun.rejected) == (4, 0)
    assert primary_ids(institution) == [
        "known1",
        "known2",
        "north1",
        "odd1",
        "visitor1",
        "visitor2",
    ]
    page = report(client, rerun)
    assert "This job runs again the rejected users of" in page
    assert f'href="/jobs/{first.pk}/"' in page
    page = report(client, first)
    assert re.search(rf'Run again as <a href="/jobs/{rerun.pk}/">job {rerun.process_id}</a>', page)


def test_adding_a_code_needs_a_description(client, staff, institution, first):
    client.force_login(staff(institution, GSA))
    data = {"job": first.pk, "table": "UserGroups", "code": "VISITOR", "description": ""}
    response = client.post("/config/code-tables/add-from-job/", data, follow=True)
    assert "The code was not added. Description: This field is required." in (
        response.content.decode()
    )
    assert not CodeTableEntry.objects.filter(institution=institution, code="VISITOR").exists()


def test_adding_a_disabled_code_enables_it(client, staff, institution, first):
    code_table_entry_declare(
        institution=institution, table="UserGroups", code="VISITOR", values={"enabled": False}
    )
    client.force_login(staff(institution, GSA))
    assert "Enable in the code table</button>" in report(client, first)
    data = {"job": first.pk, "table": "UserGroups", "code": "VISITOR", "description": "Visitor"}
    response = client.post("/config/code-tables/add-from-job/", data, follow=True)
    assert "User groups: code VISITOR enabled." in response.content.decode()
    entry = CodeTableEntry.objects.get(institution=institution, table="UserGroups", code="VISITOR")
    assert entry.enabled
    assert entry.description == "Visitor"


def test_adding_from_a_report_and_running_again_need_an_administrator(
    client, staff, institution, first
):
    add = {"job": first.pk, "table": "UserGroups", "code": "VISITOR", "description": "V"}
    run_again = f"/jobs/{first.pk}/run-again/"
    for url, data in (("/config/code-tables/add-from-job/", add), (run_again, {})):
        response = client.post(url, data)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")
    for role in (StaffRole.VIEWER, StaffRole.USER_MANAGER):
        client.force_login(staff(institution, role))
        assert client.post("/config/code-tables/add-from-job/", add).status_code == 403
        assert client.post(run_again).status_code == 403
    client.force_login(staff(institution, GSA))
    assert client.get(run_again).status_code == 405
    assert not CodeTableEntry.objects.filter(institution=institution, code="VISITOR").exists()
    assert not Job.objects.filter(rerun_of=first).exists()


def test_another_institutions_administrator_gets_404(
    client, staff, institution, other_institution, first
):
    client.force_login(staff(other_institution, GSA))
    add = {"job": first.pk, "table": "UserGroups", "code": "VISITOR", "description": "V"}
    assert client.post("/config/code-tables/add-from-job/", add).status_code == 404
    assert client.post(f"/jobs/{first.pk}/run-again/").status_code == 404
    assert not CodeTableEntry.objects.filter(code="VISITOR").exists()
    assert not Job.objects.filter(rerun_of=first).exists()


def test_run_again_while_the_profile_runs_says_why(client, staff, institution, first):
    client.force_login(staff(institution, GSA))
    add_code(institution, "UserGroups", "VISITOR")
    client.post(f"/jobs/{first.pk}/run-again/")
    response = client.post(f"/jobs/{first.pk}/run-again/", follow=True)
    assert "was not run again" in response.content.decode()
    assert Job.objects.filter(rerun_of=first).count() == 1


class Killed(BaseException):
    """Stands for the process being killed: not an Exception, so nothing catches it."""


def test_a_killed_rerun_resumes_where_it_stopped(institution, drop, monkeypatch):
    monkeypatch.setattr(pipeline, "BATCH_SIZE", 3)
    profile = make_profile(institution, drop, guard=GUARD_OFF)
    visitors = [user_xml(f"v{n}", group="VISITOR") for n in range(8)]
    write_zip(drop / "synchronize" / "a.zip", {"u.xml": users_doc(*visitors)})
    first = profile_run(profile=profile, kind="synchronize")
    assert first.rejected == 8
    add_code(institution, "UserGroups", "VISITOR")
    real_write = batch_module.write_batch
    calls = {"n": 0}

    def write_then_die(ctx, processor, checkpoint):
        calls["n"] += 1
        real_write(ctx, processor, checkpoint)
        if calls["n"] == 2:
            raise Killed

    monkeypatch.setattr(pipeline, "write_batch", write_then_die)
    with pytest.raises(Killed):
        job_run(job=job_rerun(job=first))
    stopped = Job.objects.get(rerun_of=first)
    assert (stopped.status, stopped.checkpoint["position"]) == ("running", 6)
    assert Patron.objects.count() == 6
    monkeypatch.setattr(pipeline, "write_batch", real_write)
    resumed = job_run(job=job_rerun(job=first))
    assert resumed.id == stopped.id
    assert "resuming after user 6" in resumed.log
    assert (resumed.created, resumed.rejected, resumed.status) == (8, 0, "completed")
    assert resumed.records.count() == 8
    assert Patron.objects.count() == 8


def test_a_rerun_whose_first_job_was_deleted_fails_and_takes_no_file(
    client, staff, institution, drop, first
):
    add_code(institution, "UserGroups", "VISITOR")
    rerun = job_rerun(job=first)
    first_process_id = first.process_id
    first.delete()
    write_zip(drop / "synchronize" / "day2.zip", {"users.xml": users_doc(user_xml("new1"))})
    rerun = job_run(job=rerun)
    assert rerun.status == "failed"
    assert f"Job {first_process_id}, whose rejected users this job loads again" in rerun.log
    assert (drop / "synchronize" / "day2.zip").exists()  # the server's files are not its
    assert not Patron.objects.filter(primary_id="new1").exists()
    client.force_login(staff(institution, StaffRole.VIEWER))
    assert f"rejected users of job {first_process_id}, since deleted" in report(client, rerun)
