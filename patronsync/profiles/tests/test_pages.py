"""The Integration Profile pages: list, profile, the two-step wizard, delete, schedule preview,
and running a profile now (jobs.views_run), for each role."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from patronsync.accounts.choices import StaffRole
from patronsync.connections.services import connection_create
from patronsync.jobs.models import Job
from patronsync.jobs.services import job_create
from patronsync.profiles.models import IntegrationProfile
from patronsync.profiles.services import profile_create, schedule_preview

pytestmark = pytest.mark.django_db

GSA = StaffRole.GENERAL_SYSTEM_ADMINISTRATOR
READERS = [StaffRole.VIEWER, StaffRole.USER_MANAGER]

STEP_1 = {
    "code": "TESTU",
    "name": "Test Users",
    "integration_type": "USERS",
    "system": "Campus Management",
    "description": "Students and staff from the SIS",
}
STEP_2 = {
    "import_active": "True",
    "import_record_type": "PUBLIC",
    "import_input_path": "alma/sis_load",
    "import_xsd_version": "2",
    "import_schedule": "NOT_SCHEDULED",
    "import_cron": "",
    "sync_active": "True",
    "sync_record_type": "STAFF",
    "sync_match_id_type": "UNIV_ID",
    "sync_type": "SWAP_ALL",
    "sync_unmatched": "REJECT",
    "sync_input_path": "synchronize",
    "sync_schedule": "CRON",
    "sync_cron": "30 2 * * 1-5",
    "sync_xsd_version": "2",
    "sync_take_over_users": "on",
    "subscribers": "registrar@example.edu\nlibrary@example.edu",
    "action": "save",
}


def make_connection(institution, folder, name="SIS drop"):
    return connection_create(
        institution=institution,
        values={
            "name": name,
            "transport": "local",
            "sub_directory": str(folder),
            "allow_navigation": False,
        },
        actor="tests",
    )


def make_profile(institution, connection, code="SIS", **values):
    return profile_create(
        institution=institution,
        values={
            "code": code,
            "name": "Student Information System",
            "system": "Campus Management",
            "connection": connection,
            "import_active": True,
            "import_input_path": "import",
            "sync_active": True,
            "sync_input_path": "synchronize",
            **values,
        },
        actor="tests",
    )


@pytest.fixture
def connection(institution, tmp_path):
    return make_connection(institution, tmp_path)


@pytest.fixture
def profile(institution, connection):
    return make_profile(institution, connection)


@pytest.fixture
def other_profile(other_institution, tmp_path):
    """A profile of the other institution (Europe/Berlin)."""
    other_connection = make_connection(other_institution, tmp_path / "branch", name="Branch drop")
    return make_profile(other_institution, other_connection, code="BRANCH", name="Branch SIS")


def login(client, staff, institution, role):
    account = staff(institution, role)
    client.force_login(account)
    return account


def text(response):
    """The page as a reader sees its text (entities such as &#x27; decoded)."""
    return html.unescape(response.content.decode())


def field_error(response, field):
    """The error shown beside a field of the form, or None."""
    match = re.search(
        rf'<small class="ps-field-error" id="id_{field}-error">(.*?)</small>', text(response), re.S
    )
    return match.group(1) if match else None


def walk_step_1(client, connection, url="/config/profiles/new/", **changes):
    data = {**STEP_1, "connection": connection.pk, **changes}
    return client.post(url, data)


# Who may do what ------------------------------------------------------------------------------


def page_urls(profile):
    return [
        reverse("profiles:list"),
        reverse("profiles:detail", args=[profile.pk]),
        reverse("profiles:new"),
        reverse("profiles:new-2"),
        reverse("profiles:edit", args=[profile.pk]),
        reverse("profiles:edit-2", args=[profile.pk]),
        reverse("profiles:delete", args=[profile.pk]),
        reverse("profiles:schedule-preview") + "?section=sync&sync_schedule=DAILY_0300",
    ]


def post_urls(profile):
    return [
        reverse("profiles:new"),
        reverse("profiles:new-2"),
        reverse("profiles:edit", args=[profile.pk]),
        reverse("profiles:edit-2", args=[profile.pk]),
        reverse("profiles:delete", args=[profile.pk]),
        reverse("jobs:profile-run", args=[profile.pk]),
    ]


def test_anonymous_is_sent_to_login_from_every_page_and_action(client, profile):
    for url in page_urls(profile):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/"), url
    for url in post_urls(profile):
        response = client.post(url, {"kind": "import"})
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/"), url
    assert IntegrationProfile.objects.count() == 1
    assert not Job.objects.exists()


@pytest.mark.parametrize("role", READERS)
def test_viewers_and_user_managers_read_the_list_and_the_profile_without_actions(
    client, staff, institution, profile, role
):
    login(client, staff, institution, role)
    listing = client.get(reverse("profiles:list"))
    assert listing.status_code == 200
    assert "Student Information System" in text(listing)
    assert f'href="/jobs/?profile={profile.code}"' in text(listing)
    page = client.get(reverse("profiles:detail", args=[profile.pk]))
    assert page.status_code == 200
    for body in (text(listing), text(page)):
        assert "+ Add Integration Profile" not in body
        assert reverse("profiles:edit", args=[profile.pk]) not in body
        assert reverse("profiles:delete", args=[profile.pk]) not in body
        assert reverse("jobs:profile-run", args=[profile.pk]) not in body
    preview = client.get(
        reverse("profiles:schedule-preview") + "?section=sync&sync_schedule=DAILY_0300"
    )
    assert preview.status_code == 200


@pytest.mark.parametrize("role", READERS)
def test_viewers_and_user_managers_may_not_change_delete_or_run_a_profile(
    client, staff, institution, connection, profile, role
):
    login(client, staff, institution, role)
    for url in page_urls(profile)[2:7]:
        assert client.get(url).status_code == 403, url
    for url in post_urls(profile):
        response = client.post(
            url, {**STEP_1, **STEP_2, "connection": connection.pk, "kind": "import"}
        )
        assert response.status_code == 403, url
    assert list(IntegrationProfile.objects.values_list("code", flat=True)) == ["SIS"]
    assert not Job.objects.exists()


def test_the_gsa_sees_every_action(client, staff, institution, profile):
    login(client, staff, institution, GSA)
    listing = text(client.get(reverse("profiles:list")))
    page = text(client.get(reverse("profiles:detail", args=[profile.pk])))
    for body in (listing, page):
        assert reverse("profiles:edit", args=[profile.pk]) in body
        assert reverse("profiles:delete", args=[profile.pk]) in body
        assert reverse("jobs:profile-run", args=[profile.pk]) in body
        assert f"/jobs/?profile={profile.code}" in body
    assert "+ Add Integration Profile" in listing
    for url in page_urls(profile):
        if url != reverse("profiles:new-2"):  # without step 1 it sends back to step 1
            assert client.get(url).status_code == 200, url


def test_another_institutions_gsa_gets_404_for_this_profile(
    client, staff, institution, other_institution, connection, profile, other_profile
):
    login(client, staff, other_institution, GSA)
    listing = client.get(reverse("profiles:list"))
    assert "Branch SIS" in text(listing)
    assert "Student Information System" not in text(listing)
    assert reverse("profiles:detail", args=[profile.pk]) not in text(listing)
    for url in page_urls(profile)[1:7]:
        if "/new/" in url:
            continue
        assert client.get(url).status_code == 404, url
    for url in post_urls(profile):
        if "/new/" in url:
            continue
        data = {**STEP_1, **STEP_2, "connection": connection.pk, "kind": "import"}
        assert client.post(url, data).status_code == 404, url
    assert IntegrationProfile.objects.filter(pk=profile.pk).exists()
    assert not Job.objects.exists()


def test_the_wizard_offers_only_the_institutions_own_connections(
    client, staff, institution, connection, other_profile
):
    login(client, staff, institution, GSA)
    step_1 = text(client.get(reverse("profiles:new")))
    assert "SIS drop" in step_1
    assert "Branch drop" not in step_1
    response = walk_step_1(client, other_profile.connection)
    assert response.status_code == 200
    assert "S/FTP Connection Type:" in field_error(response, "connection")


# The list -------------------------------------------------------------------------------------


def test_the_list_shows_alma_columns_in_the_institutions_zone_and_filters_by_type(
    client, staff, other_institution, other_profile
):
    login(client, staff, other_institution, GSA)
    body = text(client.get(reverse("profiles:list")))
    for column in ("Name", "Code", "Description", "Integration Type", "Updated By", "Status Date"):
        assert f"<th>{column}</th>" in body
    assert "tests" in body  # updated by
    berlin = other_profile.status_date.astimezone(ZoneInfo("Europe/Berlin"))
    assert berlin.strftime("%Y-%m-%d %H:%M:%S %Z") in body
    users = text(client.get(reverse("profiles:list") + "?integration_type=USERS"))
    assert "BRANCH" in users
    assert '<option value="USERS" selected>' in users


# The wizard -----------------------------------------------------------------------------------


def test_walking_the_wizard_creates_exactly_the_profile_its_fields_say(
    client, staff, institution, connection
):
    account = login(client, staff, institution, GSA)
    first = walk_step_1(client, connection)
    assert first.status_code == 302
    assert first["Location"] == reverse("profiles:new-2")
    assert not IntegrationProfile.objects.exists()  # nothing is saved before Save
    step_2 = client.get(first["Location"])
    assert 'aria-current="step">2' in text(step_2)
    assert "TESTU" in text(step_2)
    assert "Campus Management" in text(step_2)  # step 1's System, summed up above step 2
    page = text(step_2)
    # The Synchronize section in the slides' order: Input File Path, Schedule, XSD Version.
    assert page.index('name="sync_input_path"') < page.index('name="sync_schedule"')
    assert page.index('name="sync_schedule"') < page.index('name="sync_xsd_version"')
    saved = client.post(reverse("profiles:new-2"), STEP_2)
    assert saved.status_code == 302
    profile = IntegrationProfile.objects.get()
    assert saved["Location"] == reverse("profiles:detail", args=[profile.pk])
    assert {
        "institution": profile.institution,
        "code": profile.code,
        "name": profile.name,
        "integration_type": profile.integration_type,
        "connection": profile.connection,
        "system": profile.system,
        "description": profile.description,
        "import": (
            profile.import_active,
            profile.import_record_type,
            profile.import_input_path,
            profile.import_xsd_version,
            profile.import_schedule,
            profile.import_cron,
        ),
        "sync": (
            profile.sync_active,
            profile.sync_record_type,
            profile.sync_match_id_type,
            profile.sync_type,
            profile.sync_unmatched,
            profile.sync_input_path,
            profile.sync_schedule,
            profile.sync_cron,
            profile.sync_xsd_version,
            profile.sync_take_over_users,
        ),
        "subscribers": profile.subscribers,
        "updated_by": profile.updated_by,
    } == {
        "institution": institution,
        "code": "TESTU",
        "name": "Test Users",
        "integration_type": "USERS",
        "connection": connection,
        "system": "Campus Management",
        "description": "Students and staff from the SIS",
        "import": (True, "PUBLIC", "alma/sis_load", "2", "NOT_SCHEDULED", ""),
        "sync": (
            True,
            "STAFF",
            "UNIV_ID",
            "SWAP_ALL",
            "REJECT",
            "synchronize",
            "CRON",
            "30 2 * * 1-5",
            "2",
            True,
        ),
        "subscribers": "registrar@example.edu\nlibrary@example.edu",
        "updated_by": account.get_username(),
    }
    page = client.get(saved["Location"])
    assert "Integration profile Test Users (TESTU) created." in text(page)
    # The draft is gone: step 2 without step 1 sends back to step 1.
    again = client.get(reverse("profiles:new-2"))
    assert again["Location"] == reverse("profiles:new")


def test_back_keeps_step_1_and_what_was_typed_in_step_2(client, staff, institution, connection):
    login(client, staff, institution, GSA)
    walk_step_1(client, connection)
    back = client.post(
        reverse("profiles:new-2"),
        {**STEP_2, "action": "back", "sync_input_path": "feeds/daily", "sync_take_over_users": ""},
    )
    assert back.status_code == 302
    assert back["Location"] == reverse("profiles:new") + "?back=1"
    step_1 = text(client.get(back["Location"]))
    assert 'value="TESTU"' in step_1
    assert 'value="Campus Management"' in step_1
    assert f'<option value="{connection.pk}" selected>' in step_1
    # Next again: step 2 shows what was typed before going back.
    walk_step_1(client, connection, name="Test Users (renamed)")
    step_2 = text(client.get(reverse("profiles:new-2")))
    assert 'value="feeds/daily"' in step_2
    assert "Test Users (renamed)" in step_2
    assert not IntegrationProfile.objects.exists()
    # Opening step 1 afresh starts a new profile.
    fresh = text(client.get(reverse("profiles:new")))
    assert 'value="TESTU"' not in fresh


def test_step_1_errors_show_beside_their_fields(client, staff, institution, connection, profile):
    login(client, staff, institution, GSA)
    response = walk_step_1(client, connection, code="SIS", system="")
    assert response.status_code == 200
    assert "Code: a profile with the code 'SIS' already exists" in field_error(response, "code")
    assert field_error(response, "system").startswith("System:")
    assert 'aria-invalid="true"' in text(response)
    assert 'aria-describedby="id_system-error id_system-help"' in text(response)
    assert field_error(response, "name") is None
    assert IntegrationProfile.objects.count() == 1


def test_step_2_shows_the_profile_rules_errors_beside_their_fields_and_saves_nothing(
    client, staff, institution, connection
):
    login(client, staff, institution, GSA)
    walk_step_1(client, connection)
    response = client.post(
        reverse("profiles:new-2"),
        {
            **STEP_2,
            "import_input_path": "../elsewhere",
            "sync_cron": "*/2 * * * *",
            "subscribers": "registrar at example",
        },
    )
    assert response.status_code == 200
    assert 'aria-current="step">2' in text(response)
    assert "Input File Path: '../elsewhere' leaves the sub-directory of connection" in field_error(
        response, "import_input_path"
    )
    assert field_error(response, "sync_cron").startswith("Cron expression: '*/2 * * * *' runs 2")
    assert "Subscribers: Not an email address: 'registrar at example'" in field_error(
        response, "subscribers"
    )
    assert not IntegrationProfile.objects.exists()
    # What was typed stays in the form.
    assert 'value="../elsewhere"' in text(response)


def test_step_2_refuses_an_unknown_match_type_a_bad_schedule_and_a_missing_path(
    client, staff, institution, connection
):
    login(client, staff, institution, GSA)
    walk_step_1(client, connection)
    response = client.post(
        reverse("profiles:new-2"),
        {
            **STEP_2,
            "sync_match_id_type": "SHOE_SIZE",
            "import_schedule": "CRON",
            "import_cron": "",
            "sync_input_path": "",
        },
    )
    assert response.status_code == 200
    assert field_error(response, "sync_match_id_type").startswith("Match ID Type:")
    assert "SHOE_SIZE" in field_error(response, "sync_match_id_type")
    assert field_error(response, "sync_input_path").startswith(
        "Input File Path: the Synchronize section is active"
    )
    assert not IntegrationProfile.objects.exists()
    fixed = {**STEP_2, "import_schedule": "CRON", "import_cron": ""}
    response = client.post(reverse("profiles:new-2"), fixed)
    assert field_error(response, "import_cron").startswith(
        "Cron expression: the schedule is CRON but no cron expression is set"
    )
    assert not IntegrationProfile.objects.exists()


def test_the_match_id_types_are_the_institutions_identifier_types(
    client, staff, institution, connection
):
    from patronsync.core.models import CodeTableEntry

    CodeTableEntry.objects.filter(institution=institution, code="BARCODE").update(enabled=False)
    login(client, staff, institution, GSA)
    walk_step_1(client, connection)
    body = text(client.get(reverse("profiles:new-2")))
    assert '<option value="PRIMARY_ID" selected>Primary Identifier</option>' in body
    assert '<option value="UNIV_ID">University ID</option>' in body
    assert 'value="BARCODE"' not in body


def test_editing_a_profile_goes_through_both_steps_and_keeps_its_code(
    client, staff, institution, connection, profile
):
    login(client, staff, institution, GSA)
    edit = reverse("profiles:edit", args=[profile.pk])
    step_1 = text(client.get(edit))
    assert 'value="SIS"' in step_1
    assert "disabled" in step_1
    assert 'value="Student Information System"' in step_1
    moved = walk_step_1(client, connection, url=edit, code="CHANGED", name="SIS feed")
    assert moved["Location"] == reverse("profiles:edit-2", args=[profile.pk])
    step_2 = text(client.get(moved["Location"]))
    assert 'value="import"' in step_2  # the saved Import path
    data = {
        **STEP_2,
        "import_input_path": "import",
        "sync_match_id_type": "PRIMARY_ID",
        "sync_unmatched": "ADD",
        "sync_schedule": "DAILY_0300",
        "sync_cron": "",
    }
    saved = client.post(moved["Location"], data)
    assert saved["Location"] == reverse("profiles:detail", args=[profile.pk])
    profile.refresh_from_db()
    assert (profile.code, profile.name, profile.sync_unmatched, profile.sync_schedule) == (
        "SIS",
        "SIS feed",
        "ADD",
        "DAILY_0300",
    )
    assert IntegrationProfile.objects.count() == 1


def test_an_edit_is_saved_only_on_save(client, staff, institution, connection, profile):
    login(client, staff, institution, GSA)
    walk_step_1(client, connection, url=reverse("profiles:edit", args=[profile.pk]), name="New")
    profile.refresh_from_db()
    assert profile.name == "Student Information System"


# Delete ---------------------------------------------------------------------------------------


def test_delete_asks_then_deletes_the_profile_and_its_jobs(client, staff, institution, profile):
    login(client, staff, institution, GSA)
    job = job_create(profile=profile, kind="import")
    Job.objects.filter(pk=job.pk).update(status="completed")
    confirm = client.get(reverse("profiles:delete", args=[profile.pk]))
    assert "its 1 job with its report will be deleted" in text(confirm)
    assert IntegrationProfile.objects.exists()
    response = client.post(reverse("profiles:delete", args=[profile.pk]))
    assert response["Location"] == reverse("profiles:list")
    assert not IntegrationProfile.objects.exists()
    assert not Job.objects.exists()
    assert "Integration profile Student Information System (SIS) deleted." in text(
        client.get(response["Location"])
    )


def test_delete_is_refused_while_a_job_of_the_profile_runs(client, staff, institution, profile):
    login(client, staff, institution, GSA)
    job = job_create(profile=profile, kind="synchronize")
    response = client.post(reverse("profiles:delete", args=[profile.pk]), follow=True)
    assert IntegrationProfile.objects.filter(pk=profile.pk).exists()
    assert Job.objects.filter(pk=job.pk, status="pending").exists()
    assert (
        f"Profile SIS cannot be deleted while its job {job.title} (Process ID {job.process_id}) "
        "is pending" in text(response)
    )


# The schedule preview -------------------------------------------------------------------------


def test_the_preview_shows_the_next_runs_in_the_institutions_zone(
    client, staff, institution, other_institution
):
    url = reverse("profiles:schedule-preview") + "?section=import&import_schedule=DAILY_0300"
    login(client, staff, institution, GSA)
    utc = text(client.get(url))
    client.logout()
    login(client, staff, other_institution, GSA)
    berlin = text(client.get(url))
    assert "Every day at 03:00" in utc
    assert "Every day at 03:00" in berlin
    assert re.search(r"\d{4}-\d\d-\d\d 03:00:00 UTC", utc)
    assert re.search(r"\d{4}-\d\d-\d\d 03:00:00 CES?T", berlin)
    assert "03:00:00 UTC" not in berlin
    assert berlin.count("<time") == 3


def test_the_preview_describes_a_cron_and_names_a_bad_one(client, staff, institution):
    login(client, staff, institution, GSA)
    base = reverse("profiles:schedule-preview") + "?section=sync&sync_schedule=CRON&sync_cron="
    good = text(client.get(base + "30+2+*+*+1-5"))
    assert "At 02:30, Monday through Friday" in good
    assert good.count("<time") == 3
    bad = text(client.get(base + "61+2+*+*+*"))
    assert "Cron expression: '61 2 * * *' is not a valid cron expression" in bad
    assert "<time" not in bad
    none = text(client.get(reverse("profiles:schedule-preview") + "?section=sync"))
    assert "runs only when run manually" in none


def test_schedule_preview_service_counts_from_the_given_instant():
    after = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)  # Europe's clocks go forward on the 29th
    preview = schedule_preview(
        schedule="DAILY_0300", cron="", time_zone="Europe/Berlin", after=after
    )
    assert [run.strftime("%m-%d %H:%M %Z") for run in preview.next_runs] == [
        "03-29 03:00 CEST",
        "03-30 03:00 CEST",
        "03-31 03:00 CEST",
    ]
    assert preview.error == ""


def test_the_profile_page_shows_each_active_sections_next_runs_without_javascript(
    client, staff, other_institution, other_profile
):
    other_profile.sync_schedule = "DAILY_0500"
    other_profile.save()
    login(client, staff, other_institution, StaffRole.VIEWER)
    body = text(client.get(reverse("profiles:detail", args=[other_profile.pk])))
    assert "Every day at 05:00" in body
    assert re.search(r"\d{4}-\d\d-\d\d 05:00:00 CES?T", body)
    assert "Not scheduled: runs only when run manually" in body  # the Import section
    assert "Europe/Berlin" in body


def test_the_step_2_page_shows_the_saved_schedules_runs_without_javascript(
    client, staff, institution, connection
):
    profile = make_profile(institution, connection, sync_schedule="WEEKLY_MON_0200")
    login(client, staff, institution, GSA)
    walk_step_1(client, connection, url=reverse("profiles:edit", args=[profile.pk]))
    body = text(client.get(reverse("profiles:edit-2", args=[profile.pk])))
    assert "Every Monday at 02:00" in body
    assert re.search(r"\d{4}-\d\d-\d\d 02:00:00 UTC", body)
    assert 'hx-get="/config/profiles/schedule-preview/?section=sync"' in body


# Run now --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "dry_run"),
    [("import", False), ("import", True), ("synchronize", False), ("synchronize", True)],
)
def test_run_creates_a_pending_job_and_shows_its_report(
    client, staff, institution, profile, kind, dry_run
):
    login(client, staff, institution, GSA)
    data = {"kind": kind, **({"dry_run": "on"} if dry_run else {})}
    response = client.post(reverse("jobs:profile-run", args=[profile.pk]), data)
    job = Job.objects.get()
    assert (job.profile, job.kind, job.dry_run, job.status, job.trigger) == (
        profile,
        kind,
        dry_run,
        "pending",
        "manual",
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("jobs:detail", args=[job.pk])
    report = client.get(response["Location"])
    assert report.status_code == 200
    assert f"{job.title}" in text(report)
    assert f"is pending (Process ID {job.process_id}); a worker runs it" in text(report)
    assert ("dry run: nothing is written" in text(report)) is dry_run


def test_run_of_an_inactive_section_comes_back_as_a_message_on_the_list(
    client, staff, institution, connection
):
    profile = make_profile(institution, connection, import_active=False)
    login(client, staff, institution, GSA)
    response = client.post(reverse("jobs:profile-run", args=[profile.pk]), {"kind": "import"})
    assert response["Location"] == reverse("profiles:list")
    assert not Job.objects.exists()
    listing = text(client.get(response["Location"]))
    assert "The Import section of profile SIS is not active" in listing


def test_run_while_a_job_of_the_profile_is_pending_comes_back_as_a_message(
    client, staff, institution, profile
):
    login(client, staff, institution, GSA)
    first = job_create(profile=profile, kind="import")
    response = client.post(
        reverse("jobs:profile-run", args=[profile.pk]), {"kind": "synchronize"}, follow=True
    )
    assert Job.objects.get() == first
    assert f"(Process ID {first.process_id}) is pending" in text(response)
    assert response.redirect_chain[-1][0] == reverse("profiles:list")


def test_run_refuses_an_unknown_kind_and_a_get(client, staff, institution, profile):
    login(client, staff, institution, GSA)
    url = reverse("jobs:profile-run", args=[profile.pk])
    response = client.post(url, {"kind": "delete_everything"}, follow=True)
    assert "Job: choose what to run (import, synchronize)." in text(response)
    assert client.get(url).status_code == 405
    assert not Job.objects.exists()


def test_the_run_menu_offers_only_active_sections(client, staff, institution, connection):
    make_profile(institution, connection, import_active=False)
    login(client, staff, institution, GSA)
    body = text(client.get(reverse("profiles:list")))
    assert 'value="synchronize"' in body
    assert 'value="import"' not in body
