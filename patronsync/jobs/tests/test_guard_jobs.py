"""The mass-change guard through whole jobs: plan first, hold or apply, approve, reject."""

from __future__ import annotations

import pytest

from patronsync.cli import main
from patronsync.jobs.models import Job, JobRecord, ReceivedFile
from patronsync.jobs.runner import APPLIED_OF_PLANNED, jobs_run_pending
from patronsync.jobs.services import (
    JobHeld,
    JobNotHeld,
    PlanNoLongerApplies,
    job_approve,
    job_create,
    job_reject,
    profile_run,
)
from patronsync.loader.tests.conftest import make_profile, user_xml, users_doc, write_zip
from patronsync.patrons.models import Patron

pytestmark = pytest.mark.django_db

USERS = 40


def feed(drop, name, users, *, group="GRAD", last="Lovelace"):
    return write_zip(
        drop / "synchronize" / name,
        {"users.xml": users_doc(*(user_xml(f"u{n}", group=group, last=last) for n in users))},
    )


def snapshot():
    return {
        p.primary_id: (p.last_name, p.user_group, p.status)
        for p in Patron.objects.order_by("primary_id")
    }


@pytest.fixture
def loaded(institution, drop):
    """A profile of 40 users, its first (complete) load done; a guard with small counts."""
    profile = make_profile(
        institution, drop, guard={"max_changes": 5, "max_changes_percent": 0, "max_leavers": 5}
    )
    feed(drop, "day1.zip", range(USERS))
    first = profile_run(profile=profile, kind="synchronize")
    assert first.status == "completed", first.log
    assert first.created == USERS  # a first load into an empty profile is not held
    return profile


def test_a_feed_truncated_to_a_tenth_is_held_and_changes_nothing(loaded, drop):
    before = snapshot()
    feed(drop, "day2.zip", range(USERS // 10), last="Truncated")
    job = profile_run(profile=loaded, kind="synchronize")
    assert job.status == "held"
    assert snapshot() == before
    [finding] = [f for f in job.guard["crossed"] if f["threshold"] == "feed_size"]
    assert (finding["count"], finding["limit"]) == (4, 32)
    assert "fewer than 80 % of the 40 users of the last complete run" in finding["message"]
    assert job.guard["plan"]["counts"]["updates"] == 4
    assert "Held for approval" in job.log
    assert "Nothing was applied" in job.log
    assert (drop / "synchronize" / "day2.zip").exists()  # not renamed: not taken
    assert not ReceivedFile.objects.filter(job=job).exists()
    # its plan is its records: each would-update with its fields before and after
    records = JobRecord.objects.filter(job=job).order_by("position")
    assert {r.outcome for r in records} == {"would_update"}
    assert records[0].changes["last_name"] == {"before": "Lovelace", "after": "Truncated"}


def test_an_empty_feed_is_held(loaded, drop):
    write_zip(drop / "synchronize" / "empty.zip", {"users.xml": users_doc()})
    job = profile_run(profile=loaded, kind="synchronize")
    assert job.status == "held"
    assert [f["threshold"] for f in job.guard["crossed"]] == ["feed_size"]
    assert job.guard["plan"]["counts"]["feed_users"] == 0


def test_a_run_under_every_threshold_plans_then_applies_exactly_the_plan(loaded, drop):
    feed(drop, "day2.zip", range(USERS), group="GRAD")  # same users...
    write_zip(
        drop / "synchronize" / "day2b.zip",
        {"users.xml": users_doc(*(user_xml(f"u{n}", last="Byron") for n in range(3)))},
    )
    job = profile_run(profile=loaded, kind="synchronize")
    assert job.status == "completed", job.log
    assert job.updated == 3
    assert job.guard["applied"] == {
        "rechecked": 0,
        "examples": [],
        "as": "exact",
    }
    assert "Applied exactly the plan" in job.log
    assert {r.outcome for r in JobRecord.objects.filter(job=job)} == {"updated"}
    assert Patron.objects.get(primary_id="u0").last_name == "Byron"


def test_a_dry_run_writes_nothing_and_its_plan_is_what_the_real_run_does(loaded, drop):
    feed(drop, "day2.zip", range(USERS), last="Byron")
    feed(drop, "day3.zip", range(USERS, USERS + 3))
    before = snapshot()
    # a dry run: the guard says a live run would be held, and nothing is written
    dry = profile_run(profile=loaded, kind="synchronize", dry_run=True)
    assert dry.status == "completed"
    assert snapshot() == before
    assert [f["threshold"] for f in dry.guard["crossed"]] == ["changes"]
    planned = {
        (r.primary_id, APPLIED_OF_PLANNED[r.outcome], repr(r.changes))
        for r in JobRecord.objects.filter(job=dry)
    }
    loaded.sync_guard = {"enabled": False}
    loaded.save(update_fields=["sync_guard"])
    live = profile_run(profile=loaded, kind="synchronize")
    assert live.status == "completed", live.log
    applied = {
        (r.primary_id, r.outcome, repr(r.changes)) for r in JobRecord.objects.filter(job=live)
    }
    assert applied == planned
    assert len(applied) == USERS + 3
    assert Patron.objects.get(primary_id="u0").last_name == "Byron"


def held_job(profile, drop):
    feed(drop, "day2.zip", range(USERS), last="Byron")
    job = profile_run(profile=profile, kind="synchronize")
    assert job.status == "held", job.log
    return job


def test_approving_applies_exactly_the_held_plan(loaded, drop):
    job = held_job(loaded, drop)
    planned = {(r.primary_id, r.changes["last_name"]["after"]) for r in job.records.all()}
    job = job_approve(job=job, actor="ana")
    assert (job.status, job.decision, job.decided_by) == ("pending", "approved", "ana")
    assert job.decided_at is not None
    assert job.guard["approved"] is True
    [done] = jobs_run_pending()
    assert done.status == "completed", done.log
    assert done.updated == USERS
    assert {(p.primary_id, p.last_name) for p in Patron.objects.all()} == planned
    assert done.guard["applied"]["as"] == "exact"
    assert "Approved by ana" in done.log
    assert "thresholds are not checked again" in done.log
    assert set(done.records.values_list("outcome", flat=True)) == {"updated"}
    assert not (drop / "synchronize" / "day2.zip").exists()  # renamed .handled now


def test_an_approved_plan_is_rechecked_for_users_changed_since(loaded, drop):
    job = held_job(loaded, drop)
    Patron.objects.filter(primary_id="u3").update(last_name="Byron", raw_hash="", content_hash="")
    job_approve(job=job, actor="ana")
    [done] = jobs_run_pending()
    assert done.status == "completed", done.log
    assert done.guard["applied"]["as"] == "re-checked"
    assert done.guard["applied"]["examples"] == [
        {"user": "u3", "planned": "would_update", "applied": "unchanged"}
    ]
    assert "re-checked against changes made since" in done.log
    assert done.updated == USERS - 1


def test_rejecting_applies_nothing_and_lets_the_next_run_go(loaded, drop):
    before = snapshot()
    job = held_job(loaded, drop)
    job = job_reject(job=job, actor="ana")
    assert (job.status, job.decision, job.decided_by) == ("cancelled", "rejected", "ana")
    assert "Rejected by ana: nothing was applied" in job.log
    assert snapshot() == before
    with pytest.raises(JobNotHeld):
        job_approve(job=job, actor="ana")
    loaded.sync_guard = {"enabled": False}
    loaded.save(update_fields=["sync_guard"])
    assert profile_run(profile=loaded, kind="synchronize").status == "completed"


def test_a_held_job_blocks_later_runs_of_its_profile(loaded, drop):
    job = held_job(loaded, drop)
    for dry_run in (False, True):
        with pytest.raises(JobHeld) as raised:
            job_create(profile=loaded, kind="synchronize", dry_run=dry_run)
        assert f"job {job.pk}" in str(raised.value)
        assert "held for approval" in str(raised.value)


def test_approving_a_plan_whose_files_are_gone_is_refused_naming_them(loaded, drop):
    job = held_job(loaded, drop)
    (drop / "synchronize" / "day2.zip").unlink()
    with pytest.raises(PlanNoLongerApplies) as raised:
        job_approve(job=job, actor="ana")
    assert "day2.zip is no longer in synchronize" in str(raised.value)
    job.refresh_from_db()
    assert (job.status, job.decision) == ("held", "")


def test_the_cli_exits_7_when_held_then_approves_and_rejects(loaded, drop, capsys):
    feed(drop, "day2.zip", range(USERS), last="Byron")
    assert main(["run", "--synchronize", "SIS"]) == 7
    job = Job.objects.get(status="held")
    assert main(["run", "--synchronize", "SIS"]) == 3  # skipped: the held job blocks it
    assert f"job {job.pk}" in capsys.readouterr().err
    assert main(["job", "reject", str(job.pk)]) == 0
    assert Job.objects.get(pk=job.pk).decision == "rejected"
    assert main(["run", "--synchronize", "SIS"]) == 7
    held = Job.objects.get(status="held")
    assert main(["job", "approve", str(held.pk), "--run"]) == 0
    held.refresh_from_db()
    assert (held.status, held.decision) == ("completed", "approved")
    assert Patron.objects.filter(last_name="Byron").count() == USERS


def test_the_scheduler_skips_a_profile_whose_job_is_held_and_says_so_in_its_log(loaded, drop):
    from datetime import UTC, datetime

    from patronsync.jobs.scheduler import schedules_fire
    from patronsync.profiles.models import IntegrationProfile
    from patronsync.profiles.services import profile_update

    job = held_job(loaded, drop)
    profile = profile_update(profile=loaded, values={"sync_schedule": "DAILY_0300"}, actor="t")
    IntegrationProfile.objects.filter(pk=profile.pk).update(
        schedule_changed_at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    now = datetime(2030, 12, 1, 3, 0, 10, tzinfo=UTC)  # 03:00 in the institution's zone (UTC)
    assert schedules_fire(now=now) == []
    job.refresh_from_db()
    [skip] = [line for line in job.log.splitlines() if "Scheduled Synchronize" in line]
    assert "this job was still held" in skip
    assert Job.objects.filter(profile=loaded).count() == 2


@pytest.mark.parametrize(
    ("guard", "words"),
    [
        ({"max_changes": -1}, "synchronize.guard: guard.max_changes is -1; expected 0 or more"),
        ({"max_leavers_percent": 150}, "guard.max_leavers_percent is 150"),
        ({"max_change": 5}, "guard.max_change is not a setting of the guard"),
    ],
)
def test_config_apply_refuses_a_guard_setting_that_makes_no_sense_naming_it(
    institution, drop, guard, words
):
    from patronsync.core.exceptions import ConfigurationError

    with pytest.raises(ConfigurationError) as raised:
        make_profile(institution, drop, guard=guard)
    assert words in str(raised.value)


def test_config_apply_stores_the_guard_settings_a_job_then_runs_with(institution, drop):
    profile = make_profile(institution, drop, guard={"max_changes": 7})
    assert profile.sync_guard == {"max_changes": 7}
    job = job_create(profile=profile, kind="synchronize")
    assert job.parameters["guard"] == {"max_changes": 7}


def test_the_profiles_subscribers_are_emailed_that_a_run_is_held(loaded, drop, mailoutbox):
    loaded.subscribers = "registrar@example.edu"
    loaded.save(update_fields=["subscribers"])
    job = held_job(loaded, drop)
    [mail] = mailoutbox
    assert mail.to == ["registrar@example.edu"]
    assert "Held for approval" in mail.subject
    assert f"patronsync job approve {job.pk}" in mail.body


def import_feed(drop, name, users):
    return write_zip(
        drop / "import" / name, {"users.xml": users_doc(*(user_xml(f"u{n}") for n in users))}
    )


def test_a_first_import_into_an_empty_profile_runs_in_one_pass(institution, drop):
    # Nothing it plans could be held: creates into an empty profile do not count, an Import
    # updates no one, and there is no earlier feed to compare its size with.
    profile = make_profile(institution, drop, guard={"max_changes": 5, "max_changes_percent": 0})
    import_feed(drop, "first.zip", range(USERS))

    job = profile_run(profile=profile, kind="import")

    assert job.status == "completed", job.log
    assert job.created == USERS
    assert job.guard == {"pass": "one pass"}
    assert "runs in one pass" in job.log
    assert "Planning the whole feed first" not in job.log


def test_a_later_import_into_a_profile_with_users_is_planned_first(institution, drop):
    profile = make_profile(institution, drop, guard={"max_changes": 5, "max_changes_percent": 0})
    import_feed(drop, "first.zip", range(USERS))
    assert profile_run(profile=profile, kind="import").status == "completed"
    import_feed(drop, "second.zip", range(USERS, USERS + 10))  # 10 creates: over 5

    job = profile_run(profile=profile, kind="import")

    assert job.status == "held", job.log
    assert "Planning the whole feed first" in job.log
    assert Patron.objects.count() == USERS


def test_a_first_synchronize_into_an_empty_profile_is_still_planned(institution, drop):
    # A Synchronize may update users it matches outside the profile: it is always planned.
    profile = make_profile(institution, drop)
    feed(drop, "day1.zip", range(USERS))

    job = profile_run(profile=profile, kind="synchronize")

    assert job.status == "completed", job.log
    assert job.guard["pass"] != "one pass"
    assert "Planning the whole feed first" in job.log


def test_a_batch_spanning_two_entries_of_a_zip_applies_exactly_its_plan(institution, drop):
    # Ordinals start again in each entry: the plan is followed by entry and ordinal, so the
    # second entry's users, in the same batch as the first's, are not taken as unplanned.
    profile = make_profile(institution, drop)
    write_zip(
        drop / "synchronize" / "two-entries.zip",
        {
            "a.xml": users_doc(*(user_xml(f"a{n}") for n in range(30))),
            "b.xml": users_doc(*(user_xml(f"b{n}") for n in range(30))),
        },
    )

    job = profile_run(profile=profile, kind="synchronize")

    assert job.status == "completed", job.log
    assert job.created == 60
    assert job.guard["applied"] == {"rechecked": 0, "examples": [], "as": "exact"}
    assert "Applied exactly the plan" in job.log
