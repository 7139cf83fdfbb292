"""Purge User Records: the plan, filters, keep policies, exemption, guard, dry run, CLI."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from patronsync.cli import main
from patronsync.core.exceptions import ConfigurationError
from patronsync.jobs.choices import JobKind, JobStatus, RecordOutcome
from patronsync.jobs.models import Job, JobRecord
from patronsync.jobs.purge import PurgeNotStartable, profile_purge_start
from patronsync.jobs.runner import job_run
from patronsync.jobs.services import JobAlreadyRunning, job_approve
from patronsync.patrons.choices import ChangeAction, UserStatus
from patronsync.patrons.models import Patron, PatronChange, PatronIdentifier
from patronsync.patrons.purge import anonymous_primary_id
from patronsync.patrons.services import Actor, patron_update
from patronsync.patrons.tests.factories import patron_factory
from patronsync.profiles.services import config_apply

pytestmark = pytest.mark.django_db

TODAY = dt.date.today()


def days_ago(days: int) -> str:
    return (TODAY - dt.timedelta(days=days)).isoformat() + "Z"


def user(institution, primary_id, *, purge_days_ago=None, group="GRAD", **more):
    data = {"primary_id": primary_id, "user_group": {"value": group}, **more}
    if purge_days_ago is not None:
        data["purge_date"] = days_ago(purge_days_ago)
    return patron_factory(institution, **data)


def set_purge(profile, **settings):
    profile.purge = settings
    profile.save(update_fields=["purge"])


def guard_off(profile):
    profile.sync_guard = {"enabled": False}
    profile.save(update_fields=["sync_guard"])


def run_purge(profile, **kwargs):
    return job_run(job=profile_purge_start(profile=profile, **kwargs))


def listed(job, outcome):
    return set(
        JobRecord.objects.filter(job=job, outcome=outcome).values_list("primary_id", flat=True)
    )


def test_purge_removes_exactly_what_its_dry_run_listed(institution, profile):
    guard_off(profile)
    set_purge(profile, days_after_purge_date=30)
    for n in range(5):
        user(institution, f"old{n}", purge_days_ago=60)
    user(institution, "recent", purge_days_ago=10)
    user(institution, "never")  # no purge date: never purged
    dry = run_purge(profile, dry_run=True)
    assert dry.status == JobStatus.COMPLETED
    planned = listed(dry, RecordOutcome.WOULD_PURGE)
    assert planned == {f"old{n}" for n in range(5)}
    assert Patron.objects.filter(institution=institution).count() == 7  # a dry run writes nothing
    # A user who comes due after the dry run is not purged by the live run made from it.
    user(institution, "late", purge_days_ago=90)
    live = run_purge(profile, from_dry_run=dry)
    assert live.status == JobStatus.COMPLETED
    assert listed(live, RecordOutcome.PURGED) == planned
    remaining = set(
        Patron.objects.filter(institution=institution).values_list("primary_id", flat=True)
    )
    assert remaining == {"recent", "never", "late"}
    assert live.guard["applied"]["as"] == "exact"
    assert live.parameters["from_dry_run"] == dry.pk
    # Each removed user left one history row: deleted, by the purge job, naming no one else.
    deleted = PatronChange.objects.filter(action=ChangeAction.DELETED, job_id=live.pk)
    assert set(deleted.values_list("primary_id", flat=True)) == planned
    assert all(row.actor_kind == "job" and row.patron_id is None for row in deleted)
    assert not PatronIdentifier.objects.filter(value_key__startswith="old").exists()


def test_a_listed_user_exempted_since_the_dry_run_is_left_alone_and_the_report_says_so(
    institution, profile
):
    guard_off(profile)
    keep = user(institution, "keepme", purge_days_ago=10)
    user(institution, "goes", purge_days_ago=10)
    dry = run_purge(profile, dry_run=True)
    assert listed(dry, RecordOutcome.WOULD_PURGE) == {"keepme", "goes"}
    Patron.objects.filter(pk=keep.pk).update(exempt=True)
    live = run_purge(profile, from_dry_run=dry)
    assert live.status == JobStatus.COMPLETED_WITH_ERRORS
    assert listed(live, RecordOutcome.PURGED) == {"goes"}
    left = JobRecord.objects.get(job=live, outcome=RecordOutcome.UNCHANGED)
    assert (left.primary_id, left.reason_code) == ("keepme", "USER_EXEMPT")
    assert live.guard["applied"]["as"] == "re-checked"
    assert Patron.objects.filter(pk=keep.pk).exists()
    assert live.unchanged == 1
    assert live.total_records_processed == 2


def test_exempt_users_are_never_listed(institution, profile):
    guard_off(profile)
    exempt = user(institution, "staffer", purge_days_ago=400)
    Patron.objects.filter(pk=exempt.pk).update(exempt=True)
    user(institution, "student", purge_days_ago=400)
    job = run_purge(profile)
    assert listed(job, RecordOutcome.PURGED) == {"student"}
    assert Patron.objects.filter(pk=exempt.pk).exists()
    assert "1 exempt users past their purge date left alone" in job.log


def test_filters_record_type_user_group_and_expiry(institution, profile):
    guard_off(profile)
    set_purge(
        profile,
        user_groups=["UNDERGRAD"],
        record_types=["PUBLIC"],
        expiry_before=(TODAY - dt.timedelta(days=100)).isoformat(),
    )
    user(institution, "fits", group="UNDERGRAD", purge_days_ago=5, expiry_date=days_ago(200))
    user(institution, "grad", group="GRAD", purge_days_ago=5, expiry_date=days_ago(200))
    user(institution, "expires-late", group="UNDERGRAD", purge_days_ago=5, expiry_date=days_ago(50))
    user(
        institution, "staff-type", group="UNDERGRAD", purge_days_ago=5,
        expiry_date=days_ago(200), record_type={"value": "STAFF"},
    )  # fmt: skip
    other = user(institution, "other-profile", group="UNDERGRAD", purge_days_ago=5,
                 expiry_date=days_ago(200), external_id="HR")  # fmt: skip
    job = run_purge(profile, dry_run=True)
    assert listed(job, RecordOutcome.WOULD_PURGE) == {"fits"}
    assert other.external_id == "HR"


def test_days_after_purge_date_counts_whole_days_past(institution, profile):
    guard_off(profile)
    set_purge(profile, days_after_purge_date=30)
    user(institution, "day30", purge_days_ago=30)  # exactly 30 days: not more than 30
    user(institution, "day31", purge_days_ago=31)
    job = run_purge(profile, dry_run=True)
    assert listed(job, RecordOutcome.WOULD_PURGE) == {"day31"}


def test_anonymise_keeps_a_row_for_statistics_without_personal_data(institution, profile):
    guard_off(profile)
    set_purge(profile, keep="anonymise")
    gone = user(
        institution, "anna", purge_days_ago=3, group="UNDERGRAD", birth_date="2000-05-01Z",
        user_note=[{"note_type": {"value": "OTHER"}, "note_text": "lost card"}],
    )  # fmt: skip
    patron_update(patron=gone, data={"first_name": "Anna"}, actor=Actor.system("test"))
    job = run_purge(profile)
    assert job.status == JobStatus.COMPLETED
    row = Patron.objects.get(pk=gone.pk)
    assert row.primary_id == anonymous_primary_id(gone.pk)
    assert (row.first_name, row.last_name, row.birth_date) == ("", "", None)
    assert row.user_group == "UNDERGRAD"
    assert row.record_type == "PUBLIC"
    assert row.purge_date is not None
    assert row.expiry_date is not None
    assert [s["statistic_category"] for s in row.segments["user_statistic"]] == [{"value": "SCI"}]
    assert set(row.segments) == {"user_statistic"}
    assert row.status == UserStatus.INACTIVE
    assert row.exempt
    # Identifiers are gone (but the anonymous primary ID): a new user may take them at once.
    ids = list(PatronIdentifier.objects.filter(patron=row).values_list("id_type", "value"))
    assert ids == [("primary_id", anonymous_primary_id(gone.pk))]
    again = patron_factory(institution, primary_id="anna")
    assert again.pk != gone.pk
    # The history names no one: one row by the job, the old values masked.
    history = list(PatronChange.objects.filter(patron_id=gone.pk))
    assert len(history) == 1
    assert history[0].job_id == job.pk
    assert "Anna" not in json.dumps(history[0].changes)
    assert history[0].changes["first_name"]["before"] == "********"
    # The job's records name no anonymised row (no link from the ID back to it).
    assert not JobRecord.objects.filter(job__kind=JobKind.PURGE, patron_id=gone.pk).exists()
    # Statistics: the row is counted by user group, and a second purge leaves it alone.
    assert Patron.objects.filter(institution=institution, user_group="UNDERGRAD").count() == 1
    assert listed(run_purge(profile, dry_run=True), RecordOutcome.WOULD_PURGE) == set()


def test_guard_holds_a_purge_over_the_threshold_and_approval_applies_its_plan(institution, profile):
    profile.sync_guard = {"max_leavers": 2, "max_leavers_percent": 0}
    profile.save(update_fields=["sync_guard"])
    for n in range(3):
        user(institution, f"p{n}", purge_days_ago=5)
    user(institution, "stays")
    job = run_purge(profile)
    assert job.status == JobStatus.HELD
    assert job.guard["crossed"][0]["threshold"] == "purges"
    assert "would remove 3 users: more than 2" in job.guard["crossed"][0]["message"]
    assert Patron.objects.filter(institution=institution).count() == 4  # nothing purged
    with pytest.raises(JobAlreadyRunning):  # a held purge blocks later runs of the profile
        profile_purge_start(profile=profile, dry_run=True)
    user(institution, "after", purge_days_ago=5)  # due after the plan: not in it
    job = job_run(job=job_approve(job=job, actor="admin"))
    assert job.status == JobStatus.COMPLETED
    assert listed(job, RecordOutcome.PURGED) == {"p0", "p1", "p2"}
    assert set(Patron.objects.values_list("primary_id", flat=True)) == {"stays", "after"}


def test_a_dry_run_says_when_a_live_purge_would_be_held(institution, profile):
    profile.sync_guard = {"max_leavers": 0, "max_leavers_percent": 0}
    profile.save(update_fields=["sync_guard"])
    user(institution, "p", purge_days_ago=5)
    job = run_purge(profile, dry_run=True)
    assert job.status == JobStatus.COMPLETED
    assert job.guard["crossed"]
    assert "A live run would be held" in job.log


def test_from_dry_run_must_be_a_completed_purge_dry_run_of_the_profile(institution, profile):
    guard_off(profile)
    live = run_purge(profile)
    with pytest.raises(PurgeNotStartable, match="not a purge dry run"):
        profile_purge_start(profile=profile, from_dry_run=live)


def test_config_apply_takes_purge_settings_and_refuses_bad_ones_naming_them(
    institution, profile, drop
):
    from patronsync.demo.services import demo_config

    document = demo_config(drop)
    document["profiles"][0]["purge"] = {"days_after_purge_date": 90, "keep": "anonymise"}
    config_apply(institution=institution, document=document)
    profile.refresh_from_db()
    assert profile.purge == {"days_after_purge_date": 90, "keep": "anonymise"}
    for bad, place in (
        ({"days_after_purge_date": -1}, "profiles[0].purge.days_after_purge_date"),
        ({"keep": "archive"}, "profiles[0].purge.keep"),
        ({"user_groups": ["NOPE"]}, "profiles[0].purge.user_groups"),
        ({"record_types": ["ALUMNI"]}, "profiles[0].purge.record_types"),
        ({"expiry_before": "soon"}, "profiles[0].purge.expiry_before"),
        ({"days": 3}, "profiles[0].purge.days"),
    ):
        document["profiles"][0]["purge"] = bad
        with pytest.raises(ConfigurationError, match=place.replace("[", r"\[").replace("]", r"\]")):
            config_apply(institution=institution, document=document)


def test_cli_purge_exit_codes(institution, profile, capsys):
    user(institution, "p", purge_days_ago=5)
    assert main(["purge", "NOPE"]) == 2
    assert main(["purge", "SIS", "--dry-run", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["kind"] == "purge"
    assert report["purge"]["would_purge"] == 1
    dry = Job.objects.get(pk=report["job_id"])
    profile.sync_guard = {"max_leavers": 0, "max_leavers_percent": 0}
    profile.save(update_fields=["sync_guard"])
    assert main(["purge", "SIS", "--from-dry-run", str(dry.pk)]) == 7  # held
    assert main(["purge", "SIS", "--dry-run"]) == 3  # skipped while a purge is held
    assert Patron.objects.filter(primary_id="p").exists()
    assert main(["purge", "SIS", "--dry-run", "--from-dry-run", str(dry.pk)]) == 2


def test_cli_report_of_a_purge_prints_its_users(institution, profile, capsys):
    guard_off(profile)
    user(institution, "p", purge_days_ago=5)
    assert main(["purge", "SIS"]) == 0
    out = capsys.readouterr().out
    assert "Purge User Records" in out
    assert "Users purged" in out
    assert not Patron.objects.filter(primary_id="p").exists()
