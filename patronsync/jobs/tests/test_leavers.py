"""Leavers through whole jobs: a complete feed's missing users are expired, then deactivated,
and reactivated when the feed carries them again; exempt users, runs with file problems,
cancelled runs, dry runs and profiles whose feed is not complete."""

from __future__ import annotations

import datetime as dt

import pytest

from patronsync.core.exceptions import ConfigurationError
from patronsync.demo.services import demo_config
from patronsync.jobs import leavers as job_leavers
from patronsync.jobs.models import Job, JobRecord
from patronsync.jobs.runner import job_run
from patronsync.jobs.services import job_approve, job_create, profile_run
from patronsync.loader.state import TouchedUsers
from patronsync.loader.tests.conftest import make_profile, user_xml, users_doc, write_zip
from patronsync.patrons.models import Patron, PatronChange
from patronsync.profiles.services import config_apply

pytestmark = pytest.mark.django_db

DAY0 = dt.date(2026, 3, 2)
RULE = {
    "complete_snapshot": True,
    "expire_after_runs": 2,
    "expiry_grace_days": 10,
    "deactivate_after_days": 20,
}
GUARD_OFF = {"enabled": False}  # these tests are about the leavers rule, not the guard


class Clock:
    """The day the leavers rule counts from, moved by the tests (no sleeping)."""

    def __init__(self) -> None:
        self.today = DAY0

    def __call__(self, institution: object) -> dt.date:
        return self.today


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(job_leavers, "leavers_today", clock)
    return clock


def feed(drop, name, users):
    return write_zip(
        drop / "synchronize" / name,
        {"users.xml": users_doc(*(user_xml(f"u{n}") for n in users))},
    )


def run(profile, drop, day, users, *, dry_run=False, name=None):
    feed(drop, name or f"day-{day}{'-dry' if dry_run else ''}.zip", users)
    job = profile_run(profile=profile, kind="synchronize", dry_run=dry_run)
    assert job.status == "completed", job.log
    return job


def user(primary_id):
    return Patron.objects.get(primary_id=primary_id)


def outcomes(job):
    return sorted(
        (r.outcome, r.primary_id)
        for r in JobRecord.objects.filter(job=job).exclude(outcome__in=("created", "updated"))
    )


@pytest.fixture
def leaving(institution, drop, clock):
    """A complete-snapshot profile whose first feed loaded five users u0..u4."""
    profile = make_profile(institution, drop, leavers=RULE, guard=GUARD_OFF)
    first = run(profile, drop, 0, range(5))
    assert first.created == 5
    return profile


def test_leavers_are_expired_then_deactivated_after_the_grace_period_and_come_back(
    leaving, drop, clock
):
    clock.today = DAY0 + dt.timedelta(days=1)
    job = run(leaving, drop, 1, range(3))  # u3 and u4 missing: one run
    assert outcomes(job) == []
    assert (user("u3").missing_runs, user("u3").missing_since) == (1, clock.today)
    assert user("u3").expiry_date == dt.date(2030, 1, 31)
    assert user("u3").leaver_state == ""
    assert user("u0").missing_runs == 0

    clock.today = DAY0 + dt.timedelta(days=2)
    job = run(leaving, drop, 2, range(3))  # two complete runs missing: expired
    assert outcomes(job) == [("expired", "u3"), ("expired", "u4")]
    u3 = user("u3")
    assert u3.leaver_state == "expired"
    assert u3.status == "ACTIVE"
    assert u3.expiry_date == clock.today + dt.timedelta(days=10)  # today plus the grace period
    assert (u3.missing_runs, u3.missing_since) == (2, DAY0 + dt.timedelta(days=1))
    record = JobRecord.objects.get(job=job, primary_id="u3")
    assert record.changes["expiry_date"] == {"before": "2030-01-31", "after": "2026-03-14"}
    assert record.reason_code == "MISSING_FROM_FEED"
    assert "Missing from 2 complete runs" in (record.reason)
    assert job.updated == 2
    assert job.unchanged == 3
    history = PatronChange.objects.get(patron=u3, job_id=job.pk)
    assert history.actor_kind == "job"
    assert history.changes["leaver_state"]["after"] == "expired"
    assert "2 expired" in job.log

    clock.today = DAY0 + dt.timedelta(days=12)  # grace period over, but not 20 days yet
    job = run(leaving, drop, 12, range(3))
    assert outcomes(job) == []
    assert user("u3").status == "ACTIVE"
    assert user("u3").missing_runs == 3

    clock.today = DAY0 + dt.timedelta(days=22)  # 20 days after expiry: deactivated
    job = run(leaving, drop, 22, range(3))
    assert outcomes(job) == [("deactivated", "u3"), ("deactivated", "u4")]
    u3 = user("u3")
    assert (u3.status, u3.leaver_state) == ("INACTIVE", "deactivated")
    assert JobRecord.objects.get(job=job, primary_id="u3").changes["status"] == {
        "before": "ACTIVE",
        "after": "INACTIVE",
    }

    clock.today = DAY0 + dt.timedelta(days=23)
    job = run(leaving, drop, 23, range(4))  # u3 is back
    assert outcomes(job) == [("reactivated", "u3")]
    u3 = user("u3")
    assert (u3.status, u3.leaver_state, u3.missing_runs, u3.missing_since) == (
        "ACTIVE",
        "",
        0,
        None,
    )
    assert u3.expiry_date == dt.date(2030, 1, 31)  # the feed's again
    assert user("u4").leaver_state == "deactivated"
    assert user("u4").status == "INACTIVE"
    history = PatronChange.objects.filter(patron=u3).order_by("id")
    steps = [h.changes["leaver_state"]["after"] for h in history if "leaver_state" in h.changes]
    assert steps == ["expired", "deactivated", ""]
    # the feed's record of u3 was compared field by field again: its expiry and status are back
    back = [h.changes for h in history if h.job_id == job.pk and "expiry_date" in h.changes]
    assert back == [
        {
            "expiry_date": {"before": "2026-03-14", "after": "2030-01-31"},
            "status": {"before": "INACTIVE", "after": "ACTIVE"},
        }
    ]
    # the next run with the same bytes finds u3 unchanged: nothing more to undo
    clock.today = DAY0 + dt.timedelta(days=24)
    job = run(leaving, drop, 24, range(4))
    assert outcomes(job) == []
    assert user("u3").status == "ACTIVE"


def test_a_user_missing_for_some_days_is_expired_by_days(institution, drop, clock):
    rule = {"complete_snapshot": True, "expire_after_days": 7, "expiry_grace_days": 0}
    profile = make_profile(institution, drop, leavers=rule, guard=GUARD_OFF)
    run(profile, drop, 0, range(3))
    clock.today = DAY0 + dt.timedelta(days=1)
    run(profile, drop, 1, range(2))
    clock.today = DAY0 + dt.timedelta(days=7)
    assert outcomes(run(profile, drop, 7, range(2))) == []  # 6 days missing
    clock.today = DAY0 + dt.timedelta(days=8)
    job = run(profile, drop, 8, range(2))
    assert outcomes(job) == [("expired", "u2")]
    assert user("u2").expiry_date == clock.today  # no grace: expires today


def test_an_exempt_user_is_left_alone(leaving, drop, clock):
    Patron.objects.filter(primary_id="u4").update(exempt=True)
    for day in (1, 2, 30):
        clock.today = DAY0 + dt.timedelta(days=day)
        job = run(leaving, drop, day, range(4))
        assert "u4" not in {p for _, p in outcomes(job)}
    u4 = user("u4")
    assert (u4.missing_runs, u4.leaver_state, u4.status) == (0, "", "ACTIVE")
    assert u4.expiry_date == dt.date(2030, 1, 31)
    assert "1 exempt left alone" in job.log


def test_nothing_happens_after_a_run_with_file_problems(leaving, drop, clock):
    feed(drop, "a.zip", range(3))
    write_zip(drop / "synchronize" / "b.zip", {"users.xml": "<users><user><primary_id>x"})
    for day in (1, 2):
        clock.today = DAY0 + dt.timedelta(days=day)
        job = profile_run(profile=leaving, kind="synchronize")
        assert job.status == "completed_with_errors"
        assert "file problems" in job.log
        feed(drop, f"a{day}.zip", range(3))
        write_zip(drop / "synchronize" / f"b{day}.zip", {"users.xml": "<users><user>"})
    assert user("u3").missing_runs == 0
    assert user("u3").leaver_state == ""
    assert not JobRecord.objects.filter(outcome="expired").exists()


def test_nothing_happens_on_a_cancelled_run(leaving, drop, clock):
    clock.today = DAY0 + dt.timedelta(days=1)
    feed(drop, "day1.zip", range(3))
    job = job_create(profile=leaving, kind="synchronize")
    Job.objects.filter(pk=job.pk).update(cancel_requested_by="desk")
    job = job_run(job=job)
    assert job.status == "cancelled"
    assert user("u3").missing_runs == 0


def test_a_run_that_took_no_file_counts_nobody_missing(leaving, drop, clock):
    clock.today = DAY0 + dt.timedelta(days=1)
    job = profile_run(profile=leaving, kind="synchronize")
    assert "No new zip files" in job.log
    assert user("u0").missing_runs == 0


def test_a_profile_whose_feed_is_not_complete_expires_nobody(institution, drop, clock):
    profile = make_profile(institution, drop, guard=GUARD_OFF)
    run(profile, drop, 0, range(3))
    for day in (1, 2, 3):
        clock.today = DAY0 + dt.timedelta(days=day)
        assert outcomes(run(profile, drop, day, range(1))) == []
    assert user("u2").missing_runs == 0
    assert user("u2").leaver_state == ""
    assert "seen" not in Job.objects.order_by("-id").first().checkpoint  # nothing kept


def test_a_dry_run_plans_without_writing(leaving, drop, clock):
    clock.today = DAY0 + dt.timedelta(days=1)
    run(leaving, drop, 1, range(3))
    clock.today = DAY0 + dt.timedelta(days=2)
    before = list(Patron.objects.order_by("id").values())
    changes = PatronChange.objects.count()
    dry = run(leaving, drop, 2, range(3), dry_run=True)
    assert outcomes(dry) == [("would_expire", "u3"), ("would_expire", "u4")]
    assert list(Patron.objects.order_by("id").values()) == before
    assert PatronChange.objects.count() == changes
    live = run(leaving, drop, 2, range(3))  # the live run then does what was planned
    applied = {"would_expire": "expired"}
    assert [(applied[o], p) for o, p in outcomes(dry)] == outcomes(live)
    assert {r.changes["expiry_date"]["after"] for r in JobRecord.objects.filter(job=dry)} == {
        r.changes["expiry_date"]["after"] for r in JobRecord.objects.filter(job=live)
    }


def test_a_dry_run_plans_deactivation_and_return(leaving, drop, clock):
    Patron.objects.filter(primary_id__in=["u3", "u4"]).update(
        leaver_state="expired",
        leaver_since=DAY0,
        missing_runs=2,
        missing_since=DAY0 - dt.timedelta(days=5),
    )
    clock.today = DAY0 + dt.timedelta(days=20)
    dry = run(leaving, drop, 20, range(4), dry_run=True)
    assert outcomes(dry) == [("would_deactivate", "u4"), ("would_reactivate", "u3")]
    assert user("u4").status == "ACTIVE"
    assert user("u3").leaver_state == "expired"


def test_a_run_the_guard_holds_expires_nobody_until_it_is_approved(institution, drop, clock):
    profile = make_profile(institution, drop, leavers=RULE)  # the guard on, its defaults
    run(profile, drop, 0, range(10))
    Patron.objects.filter(primary_id__gte="u5").update(missing_runs=1, missing_since=DAY0)
    clock.today = DAY0 + dt.timedelta(days=1)
    feed(drop, "day1.zip", range(5))  # half the feed: fewer than 80 % of the last run's
    job = profile_run(profile=profile, kind="synchronize")
    assert job.status == "held", job.log
    assert job.guard["plan"]["counts"]["expirations"] == 5  # planned, for the guard to count
    assert {(u.missing_runs, u.leaver_state) for u in Patron.objects.filter(
        primary_id__gte="u5")} == {(1, "")}  # fmt: skip
    assert not JobRecord.objects.filter(outcome="expired").exists()
    job_approve(job=job, actor="ana")
    job = job_run(job=Job.objects.get(pk=job.pk))
    assert job.status == "completed", job.log
    assert [o for o, _ in outcomes(job)] == ["expired"] * 5
    assert {u.leaver_state for u in Patron.objects.filter(primary_id__gte="u5")} == {"expired"}


def test_a_guarded_run_under_its_thresholds_applies_the_leavers_step(institution, drop, clock):
    profile = make_profile(institution, drop, leavers=RULE)  # the guard on, its defaults
    run(profile, drop, 0, range(10))
    Patron.objects.filter(primary_id="u9").update(missing_runs=1, missing_since=DAY0)
    clock.today = DAY0 + dt.timedelta(days=1)
    job = run(profile, drop, 1, range(9))
    assert [o for o, _ in outcomes(job)] == ["expired"]
    assert user("u9").leaver_state == "expired"
    assert user("u9").missing_runs == 2


@pytest.mark.parametrize(
    ("leavers", "place", "said"),
    [
        ({"complete_snapshot": True, "expire_after_runs": -1}, "expire_after_runs", "1 or more"),
        ({"complete_snapshot": True, "expire_after_days": 1.5}, "expire_after_days", "whole"),
        (
            {"complete_snapshot": True, "expire_after_runs": 2, "expiry_grace_days": -3},
            "expiry_grace_days",
            "0 or more",
        ),
        ({"expire_after_runs": 3}, "expire_after_runs", "complete snapshot"),
        (
            {"complete_snapshot": False, "deactivate_after_days": 3},
            "deactivate_after_days",
            "complete snapshot",
        ),
        ({"complete_snapshot": "yes"}, "complete_snapshot", "true or false"),
        ({"complete_snapshot": True, "expire_after": 3}, "leavers", "unknown key(s) expire_after"),
        (
            {"complete_snapshot": True, "deactivate_after_days": 3},
            "deactivate_after_days",
            "threshold for expiry",
        ),
        (
            {"complete_snapshot": True, "expire_after_runs": 1, "deactivate_after_days": 3},
            "deactivate_after_days",
            "grace period",
        ),
    ],
)
def test_config_apply_refuses_nonsense_naming_the_setting(institution, drop, leavers, place, said):
    document = demo_config(drop)
    document["profiles"][0]["synchronize"]["leavers"] = leavers
    with pytest.raises(ConfigurationError) as error:
        config_apply(institution=institution, document=document)
    where = "profiles[0].synchronize.leavers"
    assert (f"{where}.{place}:" if place != "leavers" else f"{where}:") in str(error.value)
    assert said in str(error.value)


def test_config_apply_stores_the_rule_with_its_defaults(institution, drop):
    profile = make_profile(
        institution, drop, leavers={"complete_snapshot": True, "expire_after_runs": 3}
    )
    assert profile.sync_leavers == {
        "complete_snapshot": True,
        "expire_after_runs": 3,
        "expiry_grace_days": 30,
    }
    profile = make_profile(institution, drop, leavers={})
    assert profile.sync_leavers == {}


def test_a_resumed_run_remembers_whom_its_first_part_carried(leaving, drop, clock):
    clock.today = DAY0 + dt.timedelta(days=1)
    feed(drop, "day1.zip", range(3))
    job = job_create(profile=leaving, kind="synchronize")
    carried = TouchedUsers()
    carried.add(user("u3").pk)  # by a file the job loaded before it was interrupted
    Job.objects.filter(pk=job.pk).update(checkpoint={"seen": carried.dump()})
    job = job_run(job=Job.objects.get(pk=job.pk))
    assert job.status == "completed", job.log
    assert (user("u3").missing_runs, user("u4").missing_runs) == (0, 1)
    assert user("u3").pk in TouchedUsers.load(job.checkpoint["seen"])
    assert job.checkpoint["leavers_done"] is True


def test_a_resumed_run_whose_step_was_committed_does_not_count_again(leaving, drop, clock):
    """The job stopped after its leavers step was committed, before it ended: its file was
    loaded and renamed, so the resumed run takes none, and must not count anyone again."""
    clock.today = DAY0 + dt.timedelta(days=1)
    job = job_create(profile=leaving, kind="synchronize")
    Patron.objects.filter(primary_id__in=["u3", "u4"]).update(missing_runs=1)
    Job.objects.filter(pk=job.pk).update(
        checkpoint={"leavers_done": True},
        files=[{"name": "day1.zip", "users": 3, "problems": []}],
    )
    job = job_run(job=Job.objects.get(pk=job.pk))
    assert job.status == "completed", job.log
    assert (user("u3").missing_runs, user("u4").missing_runs) == (1, 1)
