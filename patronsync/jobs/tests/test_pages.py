"""The job pages: Monitor Jobs (running with live progress, scheduled, history), the report
("Patron Import Results") with its records, filters, changes, trend chart and CSV, the progress
fragment and cancel; per institution and per role."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
from pathlib import Path

import pytest
from django.utils import timezone

from patronsync.accounts.choices import StaffRole
from patronsync.jobs.charts import trend_chart
from patronsync.jobs.choices import JobKind, JobStatus, JobTrigger, RecordOutcome
from patronsync.jobs.models import Job, JobRecord
from patronsync.jobs.services import profile_run
from patronsync.jobs.templatetags.jobpages import seconds
from patronsync.loader.tests.conftest import make_profile, user_xml, users_doc, write_zip
from patronsync.profiles.services import profile_update

pytestmark = pytest.mark.django_db

GSA = StaffRole.GENERAL_SYSTEM_ADMINISTRATOR
ROLES = (StaffRole.VIEWER, StaffRole.USER_MANAGER, GSA)
DASH = "\N{EN DASH}"  # the paging line's "1-50 of 60"
_numbers = itertools.count(1)


def folders(path: Path) -> Path:
    for folder in ("synchronize", "import"):
        (path / folder).mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def sis(institution, tmp_path):
    """The quick start's profile SIS of the main institution, rejecting unmatched users."""
    return make_profile(institution, folders(tmp_path / "main"), unmatched="REJECT")


@pytest.fixture
def job(sis, tmp_path):
    write_zip(tmp_path / "main" / "synchronize" / "a.zip", {"u.xml": users_doc(user_xml("nobody"))})
    return profile_run(profile=sis, kind="synchronize")


def make_job(profile, *, status=JobStatus.COMPLETED, started=None, **fields) -> Job:
    """A job of `profile` as a worker leaves it: ended (by default) with its counters."""
    started = started or timezone.now() - dt.timedelta(minutes=5)
    ended = status not in (JobStatus.PENDING, JobStatus.RUNNING)
    values = {
        "kind": JobKind.SYNCHRONIZE,
        "process_id": f"9{next(_numbers):012d}",
        "started_at": None if status == JobStatus.PENDING else started,
        "finished_at": started + dt.timedelta(seconds=75) if ended else None,
        **fields,
    }
    return Job.objects.create(
        institution=profile.institution,
        profile=profile,
        status=status,
        **values,
    )


def running_job(profile, **fields) -> Job:
    """A job a live worker holds: 40 of 100 users done."""
    now = timezone.now()
    return make_job(
        profile,
        status=JobStatus.RUNNING,
        started=now - dt.timedelta(seconds=20),
        worker="worker-1",
        lease_until=now + dt.timedelta(minutes=10),
        users_expected=100,
        total_records_processed=40,
        **fields,
    )


def login(client, staff, institution, role=StaffRole.VIEWER):
    client.force_login(staff(institution, role))


def page(client, url):
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode()


def add_records(job, count, **fields):
    JobRecord.objects.bulk_create(
        JobRecord(
            job=job,
            file=fields.get("file", "a.zip"),
            entry="u.xml",
            position=n,
            match_value=f"user{n:04d}",
            primary_id=f"user{n:04d}",
            outcome=fields.get("outcome", RecordOutcome.REJECTED),
            reason_code=fields.get("reason_code", "UNMATCHED"),
            reason=fields.get("reason", "The profile rejects unmatched records"),
        )
        for n in range(1, count + 1)
    )


# Permissions: every page and action, for every role, and another institution's staff.


def job_urls(job):
    return [
        "/jobs/?tab=running",
        "/jobs/?tab=scheduled",
        "/jobs/?tab=history",
        "/jobs/started/?after=0",
        f"/jobs/{job.pk}/",
        f"/jobs/{job.pk}/progress/",
        f"/jobs/{job.pk}/records.csv",
    ]


def test_anonymous_is_sent_to_login_from_every_page_and_action(client, job):
    for url in [*job_urls(job), f"/jobs/{job.pk}/cancel/"]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/?next=/jobs/"), url
    response = client.post(f"/jobs/{job.pk}/cancel/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_every_page(client, staff, institution, job, role):
    login(client, staff, institution, role)
    for url in job_urls(job):
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("role", [StaffRole.VIEWER, StaffRole.USER_MANAGER])
def test_only_a_gsa_may_cancel(client, staff, institution, sis, role):
    running = running_job(sis)
    login(client, staff, institution, role)
    assert client.post(f"/jobs/{running.pk}/cancel/").status_code == 403
    running.refresh_from_db()
    assert (running.status, running.cancel_requested_by) == (JobStatus.RUNNING, "")
    assert "Cancel job" not in page(client, "/jobs/?tab=running")
    assert "Cancel job" not in page(client, f"/jobs/{running.pk}/")
    assert "Cancel job" not in page(client, f"/jobs/{running.pk}/progress/")


def test_another_institutions_staff_get_404_for_a_job_and_do_not_see_it(
    client, staff, institution, other_institution, sis
):
    running = running_job(sis)
    ended = make_job(sis)
    login(client, staff, other_institution, GSA)
    for target in (running, ended):
        for url in job_urls(target)[4:]:
            assert client.get(url).status_code == 404, url
    assert client.post(f"/jobs/{running.pk}/cancel/").status_code == 404
    running.refresh_from_db()
    assert running.cancel_requested_by == ""
    for url in ("/jobs/?tab=running", "/jobs/?tab=history", "/jobs/started/?after=0"):
        listing = page(client, url)
        assert running.process_id not in listing
        assert ended.process_id not in listing


def test_cancel_is_post_only(client, staff, institution, sis):
    pending = make_job(sis, status=JobStatus.PENDING)
    login(client, staff, institution, GSA)
    assert client.get(f"/jobs/{pending.pk}/cancel/").status_code == 405
    pending.refresh_from_db()
    assert pending.status == JobStatus.PENDING


# Cancel.


def test_gsa_cancels_a_pending_job_from_the_running_tab(client, staff, institution, sis):
    pending = make_job(sis, status=JobStatus.PENDING)
    login(client, staff, institution, GSA)
    assert "Cancel job" in page(client, "/jobs/?tab=running")

    response = client.post(f"/jobs/{pending.pk}/cancel/", {"from": "list"}, follow=True)

    assert response.redirect_chain[0][0] == "/jobs/?tab=running"
    pending.refresh_from_db()
    assert pending.status == JobStatus.CANCELLED
    assert f"Cancelled by {response.context['user'].username}" in pending.log
    assert f"(Process ID {pending.process_id}) cancelled." in response.content.decode()


def test_gsa_asks_a_running_job_to_stop_from_its_report(client, staff, institution, sis):
    running = running_job(sis)
    login(client, staff, institution, GSA)
    assert "Cancel job" in page(client, f"/jobs/{running.pk}/")

    response = client.post(f"/jobs/{running.pk}/cancel/", follow=True)

    assert response.redirect_chain[0][0] == f"/jobs/{running.pk}/"
    running.refresh_from_db()
    assert running.status == JobStatus.RUNNING  # its worker stops after its batch
    assert running.cancel_requested_by == response.context["user"].username
    body = response.content.decode()
    assert "Cancel requested" in body
    assert "stops after the batch it is committing" in body


def test_cancelling_an_ended_job_says_why_not(client, staff, institution, job):
    login(client, staff, institution, GSA)
    response = client.post(f"/jobs/{job.pk}/cancel/", follow=True)
    assert "was not cancelled: job is completed_with_errors" in response.content.decode()
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED_WITH_ERRORS


# Monitor Jobs' tabs.


def test_running_tab_lists_active_jobs_with_live_progress_and_not_ended_ones(
    client, staff, institution, sis, job
):
    running = running_job(sis)
    login(client, staff, institution)
    body = page(client, "/jobs/")  # Running is the first tab
    assert 'href="?tab=running" aria-current="page"' in body
    assert running.process_id in body
    assert job.process_id not in body
    assert '<progress value="40" max="100"' in body
    assert "40 of 100 users" in body
    assert "users/s" in body
    assert "left" in body
    assert f'hx-get="/jobs/{running.pk}/progress/?from=list"' in body
    assert 'hx-trigger="every 1s"' in body


def test_running_tab_watches_for_jobs_started_after_the_newest_it_shows(
    client, staff, institution, sis, tmp_path
):
    login(client, staff, institution)
    body = page(client, "/jobs/?tab=running")
    assert 'id="running-empty"' in body
    assert 'hx-get="/jobs/started/?after=0" hx-trigger="every 5s"' in body

    first = running_job(sis)
    other = make_profile(institution, folders(tmp_path / "other"))
    other.pk, other.code = None, "HR"
    other.save()
    second = make_job(other, status=JobStatus.PENDING)

    started = page(client, f"/jobs/started/?after={first.pk}")
    assert "<html" not in started
    assert second.process_id in started
    assert first.process_id not in started  # already on the page
    assert f'hx-get="/jobs/{second.pk}/progress/?from=list"' in started
    assert f'hx-get="/jobs/started/?after={second.pk}"' in started  # the watch, moved on
    assert 'id="running-empty" hx-swap-oob="delete"' in started
    quiet = page(client, f"/jobs/started/?after={second.pk}")
    assert "<article" not in quiet
    assert "hx-swap-oob" not in quiet
    assert f'hx-get="/jobs/started/?after={second.pk}"' in quiet
    assert f"after={second.pk}" in page(client, "/jobs/?tab=running")


def test_history_tab_lists_ended_jobs_with_counters_and_not_running_ones(
    client, staff, institution, sis
):
    running = running_job(sis)
    ended = make_job(
        sis,
        trigger=JobTrigger.SCHEDULE,
        dry_run=True,
        total_records_processed=17,
        created=3,
        updated=4,
        unchanged=9,
        rejected=1,
    )
    login(client, staff, institution)
    body = page(client, "/jobs/?tab=history")
    assert 'href="?tab=history" aria-current="page"' in body
    assert running.process_id not in body
    assert ended.process_id in body
    row = body[body.index(ended.process_id) :].split("</tr>")[0]
    assert '<span class="ps-badge ps-badge-ok">Completed successfully</span>' in row
    assert "Schedule" in row
    assert "dry run" in body[: body.index(ended.process_id)].rsplit("<tr>", 1)[1]
    assert "1 min 15 s" in row
    cells = [c.split(">")[-1] for c in row.split("</td>")][-6:-1]
    assert cells == ["17", "3", "4", "9", "1"]


def test_scheduled_tab_shows_each_scheduled_section_with_its_next_run_in_the_institution_zone(
    client, staff, other_institution, tmp_path
):
    branch = make_profile(other_institution, folders(tmp_path / "branch"))
    profile_update(profile=branch, values={"sync_schedule": "DAILY_0300"}, actor="tests")
    login(client, staff, other_institution)
    body = page(client, "/jobs/?tab=scheduled")
    assert "Every day at 03:00" in body
    assert "Synchronize" in body
    assert "03:00:00 CE" in body  # CET or CEST: Berlin's 03:00, not UTC's


def test_history_links_from_a_profile_filter_open_the_history_tab(client, staff, institution, job):
    login(client, staff, institution)
    body = page(client, f"/jobs/?profile={job.profile.code}")
    assert 'href="?tab=history" aria-current="page"' in body
    assert job.process_id in body


def test_history_filters_by_profile_kind_status_trigger_and_dates(
    client, staff, institution, sis, tmp_path
):
    other = make_profile(institution, folders(tmp_path / "other"))
    other.pk, other.code, other.name = None, "HR", "Human resources"
    other.save()
    day = dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)
    jobs = {
        "sync": make_job(sis, started=day),
        "import": make_job(sis, kind=JobKind.IMPORT, started=day - dt.timedelta(days=2)),
        "failed": make_job(sis, status=JobStatus.FAILED, started=day - dt.timedelta(days=5)),
        "api": make_job(sis, trigger=JobTrigger.API, started=day + dt.timedelta(days=3)),
        "hr": make_job(other, started=day),
    }
    login(client, staff, institution)

    def listed(query):
        body = page(client, f"/jobs/?tab=history&{query}")
        return {name for name, j in jobs.items() if j.process_id in body}

    assert listed("") == set(jobs)
    assert listed("profile=HR") == {"hr"}
    assert listed("kind=import") == {"import"}
    assert listed("status=failed") == {"failed"}
    assert listed("trigger=api") == {"api"}
    assert listed("date_from=2026-03-08&date_to=2026-03-10") == {"sync", "import", "hr"}
    assert listed("date_from=2026-03-11") == {"api"}
    assert listed("profile=SIS&date_to=2026-03-09") == {"import", "failed"}


def test_history_dates_are_days_in_the_institution_zone(client, staff, other_institution, tmp_path):
    branch = make_profile(other_institution, folders(tmp_path / "branch"))
    # 23:30 UTC on 9 March is 00:30 on 10 March in Berlin.
    late = make_job(branch, started=dt.datetime(2026, 3, 9, 23, 30, tzinfo=dt.UTC))
    login(client, staff, other_institution)
    assert late.process_id in page(client, "/jobs/?tab=history&date_from=2026-03-10")
    assert late.process_id not in page(client, "/jobs/?tab=history&date_to=2026-03-09")


def test_history_filter_errors_name_their_field(client, staff, institution, job):
    login(client, staff, institution)
    body = page(client, "/jobs/?tab=history&date_from=yesterday&status=running")
    assert (
        '<small class="ps-field-error" id="id_date_from-error">Started from: Enter a valid date.'
        in body
    )
    assert 'aria-invalid="true" aria-describedby="id_date_from-error"' in body
    assert 'id="id_status-error">Status: Select a valid choice.' in body
    body = page(client, "/jobs/?tab=history&date_from=2026-03-10&date_to=2026-03-01")
    assert 'id="id_date_to-error">Started to: Must not be before Started from.' in body


def test_history_pages_through_every_ended_job(client, staff, institution, sis):
    start = timezone.now() - dt.timedelta(days=1)
    oldest = make_job(sis, started=start)
    for n in range(1, 60):
        make_job(sis, started=start + dt.timedelta(minutes=n))
    login(client, staff, institution)
    first = page(client, "/jobs/?tab=history")
    assert oldest.process_id not in first
    assert f"1{DASH}50 of 60, page 1 of 2" in first
    assert 'href="?tab=history&amp;page=2"' in first
    second = page(client, "/jobs/?tab=history&page=2")
    assert oldest.process_id in second
    assert f"51{DASH}60 of 60" in second


# The report.


def test_viewer_reads_the_report_with_rejected_users(client, staff, institution, job):
    login(client, staff, institution)
    assert "Users SYNCHRONIZE using profile" in page(client, "/jobs/?tab=history")
    body = page(client, f"/jobs/{job.pk}/")
    assert "Patron Import Results" in body
    assert job.process_id in body
    assert "rejects unmatched records" in body
    assert "View alternative report" in body
    assert "Job Results Summary" in body


def test_report_counts_each_file_by_outcome(client, staff, institution, sis, tmp_path):
    drop = tmp_path / "main" / "synchronize"
    write_zip(drop / "a.zip", {"u.xml": users_doc(user_xml("p1"), user_xml("p2"))})
    profile_update(profile=sis, values={"sync_unmatched": "ADD"}, actor="tests")
    profile_run(profile=sis, kind="synchronize")
    write_zip(drop / "b.zip", {"u.xml": users_doc(user_xml("p1", first="Bob"), user_xml("p2"))})
    write_zip(drop / "c.zip", {"u.xml": users_doc(user_xml("p3"), user_xml(None, first=""))})
    second = profile_run(profile=sis, kind="synchronize")
    login(client, staff, institution)
    body = page(client, f"/jobs/{second.pk}/")
    section = body[body.index("<h2>Users by file</h2>") : body.index("<h2>Job parameters</h2>")]
    rows = {}
    for row in section.split("<tr>")[2:]:
        cells = [c.split(">")[-1].strip() for c in row.split("</td>")[1:-1]]
        name = row.split('#records">')[1].split("<")[0]
        rows[name] = cells[:5]
    # Users, created, updated, rejected, unchanged.
    assert rows["b.zip"] == ["2", "0", "1", "0", "1"]
    assert rows["c.zip"][:2] == ["2", "1"]
    assert rows["c.zip"][3] == "1"


def test_report_pages_through_every_record_past_500(client, staff, institution, sis):
    ended = make_job(sis, status=JobStatus.COMPLETED_WITH_ERRORS, rejected=620)
    add_records(ended, 620)
    login(client, staff, institution)
    first = page(client, f"/jobs/{ended.pk}/")
    assert "user0001" in first
    assert "user0051" not in first
    assert f"1{DASH}50 of 620, page 1 of 13" in first
    assert 'href="?page=13#records"' in first
    last = page(client, f"/jobs/{ended.pk}/?page=13")
    assert "user0620" in last
    assert "user0601" in last
    assert "user0600" not in last
    assert f"601{DASH}620 of 620" in last
    assert "user0620" in page(client, f"/jobs/{ended.pk}/?page=99")  # past the end: the last


def test_report_filters_records_by_outcome_file_reason_code_and_text(
    client, staff, institution, sis
):
    ended = make_job(sis, status=JobStatus.COMPLETED_WITH_ERRORS)
    JobRecord.objects.bulk_create(
        [
            JobRecord(job=ended, file="a.zip", position=1, match_value="alice",
                      primary_id="alice", outcome="created"),
            JobRecord(job=ended, file="a.zip", position=2, match_value="bob", primary_id="bob",
                      outcome="rejected", reason_code="UNMATCHED",
                      reason="The profile rejects unmatched records"),
            JobRecord(job=ended, file="b.zip", position=1, match_value="carol",
                      primary_id="carol", outcome="rejected", reason_code="IDENTIFIER_TAKEN",
                      reason="Identifier BARCODE 42 belongs to user dave"),
            JobRecord(job=ended, file="b.zip", position=2, match_value="erin",
                      primary_id="erin", outcome="updated"),
        ]
    )  # fmt: skip
    login(client, staff, institution)

    def listed(query):
        body = page(client, f"/jobs/{ended.pk}/?{query}")
        table = body[body.index('<table class="ps-records">') :].split("</table>\n</div>")[0]
        return [n for n in ("alice", "bob", "carol", "erin") if f">{n}<" in table]

    assert listed("") == ["alice", "bob", "carol", "erin"]
    assert listed("outcome=rejected") == ["bob", "carol"]
    assert listed("file=b.zip") == ["carol", "erin"]
    assert listed("reason_code=IDENTIFIER_TAKEN") == ["carol"]
    assert listed("text=ERI") == ["erin"]  # the match value, in any case
    assert listed("text=BARCODE 42") == ["carol"]  # the reason
    assert listed("outcome=rejected&file=a.zip") == ["bob"]
    body = page(client, f"/jobs/{ended.pk}/?reason_code=NOPE")
    assert 'id="id_reason_code-error">Reason code: Select a valid choice.' in body


def test_alternative_report_csv_has_every_record_the_filters_select(
    client, staff, institution, sis
):
    ended = make_job(sis, status=JobStatus.COMPLETED_WITH_ERRORS)
    add_records(ended, 620)
    add_records(ended, 3, file="b.zip", outcome="created", reason_code="", reason="")
    login(client, staff, institution)
    body = page(client, f"/jobs/{ended.pk}/?file=b.zip")
    assert f'href="/jobs/{ended.pk}/records.csv?file=b.zip"' in body

    def rows(query):
        response = client.get(f"/jobs/{ended.pk}/records.csv?{query}")
        assert response["Content-Type"].startswith("text/csv")
        text = b"".join(response.streaming_content).decode()
        return list(csv.DictReader(io.StringIO(text)))

    everything = rows("")
    assert len(everything) == 623
    assert everything[619]["match_value"] == "user0620"
    assert {r["file"] for r in rows("file=b.zip")} == {"b.zip"}
    assert len(rows("outcome=rejected")) == 620
    assert [r["match_value"] for r in rows("text=user0619")] == ["user0619"]
    assert len(rows("outcome=created&page=3")) == 3  # the page is not a filter


def test_records_download_neutralizes_formulas(client, staff, institution, sis, tmp_path):
    feed = users_doc(user_xml("=HYPERLINK(1)"))
    write_zip(tmp_path / "main" / "synchronize" / "a.zip", {"u.xml": feed})
    ran = profile_run(profile=sis, kind="synchronize")
    login(client, staff, institution)
    response = client.get(f"/jobs/{ran.pk}/records.csv")
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["match_value"] for r in rows] == ["'=HYPERLINK(1)"]


def test_updated_users_show_their_changes_field_by_field_with_code_descriptions(
    client, staff, institution, sis, tmp_path
):
    drop = tmp_path / "main" / "synchronize"
    profile_update(profile=sis, values={"sync_unmatched": "ADD"}, actor="tests")
    write_zip(drop / "a.zip", {"u.xml": users_doc(user_xml("p1", barcode="B1"))})
    profile_run(profile=sis, kind="synchronize")
    changed = user_xml("p1", group="UNDERGRAD", first="Bob", barcode="B2")
    write_zip(drop / "b.zip", {"u.xml": users_doc(changed)})
    second = profile_run(profile=sis, kind="synchronize")
    assert second.updated == 1
    login(client, staff, institution)
    body = page(client, f"/jobs/{second.pk}/?outcome=updated")
    changes = body[body.index('<table class="ps-changes">') :].split("</table>")[0]
    assert '<th scope="row" title="user_group">User group</th>' in changes
    assert '<td class="ps-before"><div>GRAD (Graduate student)</div></td>' in changes
    assert '<td class="ps-after"><div>UNDERGRAD (Undergraduate student)</div></td>' in changes
    assert '<td class="ps-before"><div>Ada</div></td>' in changes
    assert '<td class="ps-after"><div>Bob</div></td>' in changes
    assert "id_type: BARCODE" in changes
    assert "value: B2" in changes


def test_report_times_are_in_the_institution_zone(client, staff, other_institution, tmp_path):
    branch = make_profile(other_institution, folders(tmp_path / "branch"))
    winter = make_job(branch, started=dt.datetime(2026, 1, 15, 12, 0, tzinfo=dt.UTC))
    login(client, staff, other_institution)
    body = page(client, f"/jobs/{winter.pk}/")
    assert "2026-01-15 13:00:00 CET" in body  # started
    assert "2026-01-15 13:01:15 CET" in body  # finished
    assert "2026-01-15 12:00:00" not in body
    assert "2026-01-15 13:00:00 CET" in page(client, "/jobs/?tab=history")


def test_report_charts_the_profiles_recent_jobs(client, staff, institution, sis):
    start = timezone.now() - dt.timedelta(days=40)
    jobs = [
        make_job(sis, started=start + dt.timedelta(days=n), created=n, updated=1, unchanged=5)
        for n in range(35)
    ]
    running_job(sis)  # not drawn: it has not ended
    login(client, staff, institution)
    body = page(client, f"/jobs/{jobs[-1].pk}/")
    chart = body[body.index('<figure class="ps-trend">') : body.index("</figure>")]
    assert chart.count("<a href=") == 30  # the last 30 jobs that ended
    assert jobs[4].process_id not in chart
    assert jobs[5].process_id in chart
    assert f"Process ID {jobs[-1].process_id}: rejected 0, created 34, updated 1" in chart
    for label in ("Rejected", "Created", "Updated", "Unchanged", "Users", "Job started (UTC)"):
        assert f">{label}</text>" in chart or f">{label}" in chart
    assert 'class="ps-trend-current"' in chart
    figures = body[body.index("The chart's figures as a table") :].split("</details>")[0]
    assert figures.count("<tr") == 31  # the head and one row per job
    assert f">{jobs[-1].process_id}</a></td><td>Completed successfully</td><td>34</td>" in figures


def test_report_of_a_running_job_shows_its_live_progress(client, staff, institution, sis):
    running = running_job(sis)
    login(client, staff, institution)
    body = page(client, f"/jobs/{running.pk}/")
    assert f'hx-get="/jobs/{running.pk}/progress/?from=detail"' in body
    assert 'hx-trigger="every 1s"' in body
    assert '<progress value="40" max="100"' in body


def test_report_has_the_unknown_codes_slot(client, staff, institution, job):
    login(client, staff, institution)
    response = client.get(f"/jobs/{job.pk}/")
    assert "jobs/_unknown_codes.html" in [t.name for t in response.templates]
    assert response.context["job"] == job
    assert response.context["institution"] == institution


def test_report_page_names_the_earlier_file_a_file_dropped_again_repeats(
    client, staff, institution, job, tmp_path
):
    drop = tmp_path / "main" / "synchronize"
    (drop / "a.zip.handled").rename(drop / "b.zip")
    again = profile_run(profile=job.profile, kind="synchronize")
    login(client, staff, institution)
    body = page(client, f"/jobs/{again.pk}/")
    assert f"same content as a.zip (job {job.id}, Process ID {job.process_id})" in body


# The progress fragment.


def test_progress_of_a_running_job_keeps_polling(client, staff, institution, sis):
    running = running_job(sis)
    login(client, staff, institution)
    body = page(client, f"/jobs/{running.pk}/progress/?from=list")
    assert "<html" not in body  # a fragment, not a page
    assert f'id="job-progress-{running.pk}"' in body
    assert 'hx-trigger="every 1s"' in body
    assert 'hx-swap="outerHTML"' in body
    assert "40 of 100 users" in body


def test_progress_of_an_ended_job_stops_polling_and_links_the_report(
    client, staff, institution, job
):
    login(client, staff, institution)
    body = page(client, f"/jobs/{job.pk}/progress/?from=list")
    assert f'id="job-progress-{job.pk}"' in body
    assert "hx-trigger" not in body
    assert "hx-get" not in body
    assert "Completed with errors" in body
    assert f'href="/jobs/{job.pk}/"' in body
    assert "Cancel job" not in body


# The pieces the pages draw with.


def test_chart_axis_covers_the_largest_job_in_whole_number_steps(sis):
    jobs = [make_job(sis, created=7, updated=30, unchanged=480, rejected=8)]
    chart = trend_chart(jobs=jobs, zone_name="UTC")
    assert chart is not None
    values = [tick.value for tick in chart.ticks]
    assert values == [0, 200, 400, 600]
    top = chart.ticks[-1]
    segments = {s.series: s for s in chart.bars[0].segments}
    assert segments["unchanged"].y >= top.y  # the stack stays within the axis
    assert round(sum(s.height for s in segments.values()), 1) == round(
        chart.plot_height * 525 / 600, 1
    )
    assert trend_chart(jobs=[], zone_name="UTC") is None


@pytest.mark.parametrize(
    ("value", "words"),
    [(None, ""), (0.4, "0.4 s"), (3, "3 s"), (12.4, "12 s"), (75, "1 min 15 s"),
     (7380, "2 h 03 min")],
)  # fmt: skip
def test_durations_read_as_words(value, words):
    assert seconds(value) == words
