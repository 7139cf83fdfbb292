"""The scheduler with an injected clock: due slots fire once, across daylight saving, never
while a job of the profile runs, never long after their time, never for an inactive section.

No test sleeps: each calls `schedules_fire(now=...)` with the moments it wants.
"""

from __future__ import annotations

import copy
import logging
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from patronsync.cli import main
from patronsync.demo.services import demo_config
from patronsync.jobs import scheduler
from patronsync.jobs.choices import JobKind, JobStatus, JobTrigger
from patronsync.jobs.models import Job
from patronsync.jobs.scheduler import scheduled_sections, schedules_fire, section_next_runs
from patronsync.jobs.services import job_create
from patronsync.jobs.worker import worker_pass
from patronsync.profiles.models import IntegrationProfile
from patronsync.profiles.services import config_apply, profile_update

pytestmark = pytest.mark.django_db

LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)


def scheduled(profile, *, zone="Europe/Berlin", saved=LONG_AGO, **values):
    """`profile` with the schedule values given (through the profiles service, which checks
    them), in `zone`, saved at `saved` (long before the moments the test fires at)."""
    institution = profile.institution
    institution.time_zone = zone
    institution.save(update_fields=["time_zone"])
    profile = profile_update(profile=profile, values=values, actor="tests")
    IntegrationProfile.objects.filter(pk=profile.pk).update(schedule_changed_at=saved)
    return IntegrationProfile.objects.select_related("institution").get(pk=profile.pk)


def finish_all() -> None:
    """End every pending job, as its worker would, so that the next slot can fire."""
    Job.objects.filter(status=JobStatus.PENDING).update(status=JobStatus.COMPLETED)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def fired_slots(*, start: datetime, end: datetime) -> list[str]:
    """Call the scheduler every minute from `start` to `end`, finishing each job it creates;
    the slots fired, in UTC."""
    slots = []
    now = start
    while now <= end:
        for job in schedules_fire(now=now):
            slots.append(f"{job.scheduled_for.astimezone(UTC):%Y-%m-%d %H:%M}")
        finish_all()
        now += timedelta(minutes=1)
    return slots


def test_a_due_fixed_slot_fires_one_scheduled_job(profile):
    profile = scheduled(profile, sync_schedule="DAILY_0300")
    # 03:00 in Berlin on 1 December is 02:00 UTC; the scheduler looks a few seconds later.
    jobs = schedules_fire(now=utc("2026-12-01T02:00:07"))
    assert len(jobs) == 1
    job = Job.objects.get()
    assert (job.kind, job.trigger, job.status) == (
        JobKind.SYNCHRONIZE,
        JobTrigger.SCHEDULE,
        "pending",
    )
    assert job.scheduled_for == utc("2026-12-01T02:00")
    assert job.parameters["profile"] == "SIS"


def test_nothing_fires_before_the_slot(profile):
    scheduled(profile, sync_schedule="DAILY_0300")
    assert schedules_fire(now=utc("2026-12-01T01:59:59")) == []
    assert not Job.objects.exists()


def test_firing_the_same_moment_twice_gives_one_job(profile):
    scheduled(profile, sync_schedule="DAILY_0300")
    now = utc("2026-12-01T02:00:30")
    assert len(schedules_fire(now=now)) == 1
    finish_all()  # even once the job has ended, its slot has fired
    assert schedules_fire(now=now) == []
    assert schedules_fire(now=now + timedelta(minutes=5)) == []
    assert Job.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite's in-memory test database refuses concurrent writers ('table is locked'); "
    "a file database takes one writer at a time",
)
@pytest.mark.django_db(transaction=True)
def test_two_schedulers_firing_the_same_slot_at_once_give_one_job(profile):
    """Two schedulers (two embedded workers, or beat and a worker), each on its own database
    connection, fire the same slot at the same moment, ten times: one job each time."""
    scheduled(profile, sync_schedule="HOURLY")
    for hour in range(10):
        now = utc("2026-12-01T00:00:05") + timedelta(hours=hour)
        barrier = threading.Barrier(2)
        created: list[int] = []
        errors: list[BaseException] = []

        def fire(now=now, barrier=barrier, created=created, errors=errors):
            try:
                barrier.wait()
                created.extend(job.pk for job in schedules_fire(now=now))
            except BaseException as exc:  # reported below, in the test's thread
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=fire) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len(created) == 1
        assert Job.objects.filter(scheduled_for=now.replace(second=0)).count() == 1
        finish_all()
    assert Job.objects.count() == 10


@pytest.mark.parametrize(
    ("zone", "cron", "start", "end", "expected"),
    [
        # Berlin springs forward at 02:00 CET (01:00 UTC): 02:30 does not exist, and runs
        # once at 03:00 CEST (01:00 UTC).
        ("Europe/Berlin", "30 2 * * *", "2026-03-28T23:00", "2026-03-29T03:00",
         ["2026-03-29 01:00"]),
        # Berlin falls back at 03:00 CEST (01:00 UTC): 02:30 comes twice and runs once.
        ("Europe/Berlin", "30 2 * * *", "2026-10-24T23:00", "2026-10-25T03:00",
         ["2026-10-25 00:30"]),
        # New York falls back at 02:00 EDT (06:00 UTC): 01:15 comes twice and runs once.
        ("America/New_York", "15 1 * * 1-5,0", "2026-11-01T04:00", "2026-11-01T08:00",
         ["2026-11-01 05:15"]),
        # Sydney springs forward at 02:00 AEST (16:00 UTC): 02:45 runs at 03:00 AEDT.
        ("Australia/Sydney", "45 2 * * *", "2026-10-03T14:00", "2026-10-03T18:00",
         ["2026-10-03 16:00"]),
        # Sydney falls back at 03:00 AEDT (16:00 UTC): 02:45 comes twice and runs once.
        ("Australia/Sydney", "45 2 * * *", "2026-04-04T14:00", "2026-04-04T18:00",
         ["2026-04-04 15:45"]),
        # Every hour across Berlin's fall back: every real hour, the repeated 02:00 twice.
        ("Europe/Berlin", "0 * * * *", "2026-10-24T22:30", "2026-10-25T03:30",
         ["2026-10-24 23:00", "2026-10-25 00:00", "2026-10-25 01:00", "2026-10-25 02:00",
          "2026-10-25 03:00"]),
        # Every hour across New York's spring forward: 01:00 EST, then 03:00 EDT, an hour on.
        ("America/New_York", "0 * * * *", "2026-03-08T05:30", "2026-03-08T08:30",
         ["2026-03-08 06:00", "2026-03-08 07:00", "2026-03-08 08:00"]),
    ],
)  # fmt: skip
def test_a_cron_schedule_fires_exactly_its_slots_minute_by_minute_across_a_change(
    profile, zone, cron, start, end, expected
):
    scheduled(profile, zone=zone, saved=utc(start), sync_schedule="CRON", sync_cron=cron)
    assert fired_slots(start=utc(start), end=utc(end)) == expected
    assert Job.objects.filter(trigger=JobTrigger.SCHEDULE).count() == len(expected)


def test_a_slot_that_comes_while_a_job_runs_is_skipped_once_and_said_in_its_log(profile):
    profile = scheduled(profile, sync_schedule="DAILY_0300")
    running = job_create(profile=profile, kind=JobKind.SYNCHRONIZE)  # run by hand, pending
    now = utc("2026-12-01T02:00:10")
    assert schedules_fire(now=now) == []
    assert schedules_fire(now=now + timedelta(minutes=1)) == []  # a second call adds nothing
    running.refresh_from_db()
    skips = [line for line in running.log.splitlines() if "skipped" in line]
    assert len(skips) == 1
    assert "Scheduled Synchronize of 2026-12-01 03:00 (Europe/Berlin) skipped" in skips[0]
    assert "still pending" in skips[0]
    # The job ends within the grace period: the skipped slot is not run late.
    Job.objects.filter(pk=running.pk).update(status=JobStatus.COMPLETED)
    assert schedules_fire(now=now + timedelta(minutes=20)) == []
    assert not Job.objects.filter(trigger=JobTrigger.SCHEDULE).exists()
    # The next day's slot fires as usual.
    assert len(schedules_fire(now=now + timedelta(days=1))) == 1


def test_a_running_job_whose_worker_died_is_not_taken_by_the_scheduler(profile):
    profile = scheduled(profile, sync_schedule="DAILY_0300")
    running = job_create(profile=profile, kind=JobKind.SYNCHRONIZE)
    Job.objects.filter(pk=running.pk).update(status=JobStatus.RUNNING, lease_until=LONG_AGO)
    assert schedules_fire(now=utc("2026-12-01T02:00:10")) == []
    running.refresh_from_db()
    assert running.scheduled_for is None  # left for the next worker to resume
    assert "skipped: this job was still running" in running.log


def test_import_and_synchronize_due_together_run_one_at_a_time(profile):
    """One job per profile at a time: the Synchronize due with the Import is skipped, and the
    Import's log says so."""
    scheduled(profile, import_schedule="DAILY_0300", sync_schedule="DAILY_0300")
    jobs = schedules_fire(now=utc("2026-12-01T02:00:10"))
    assert [job.kind for job in jobs] == [JobKind.IMPORT]
    assert (
        "Scheduled Synchronize of 2026-12-01 03:00 (Europe/Berlin) skipped"
        in jobs[0].__class__.objects.get(pk=jobs[0].pk).log
    )


def test_only_the_latest_missed_slot_fires_once(profile):
    """The machine was off from midnight to 05:20: of the hourly slots it missed, only 05:00
    fires, once."""
    scheduled(profile, sync_schedule="HOURLY", zone="UTC")
    jobs = schedules_fire(now=utc("2026-12-01T05:20"))
    assert [job.scheduled_for for job in jobs] == [utc("2026-12-01T05:00")]
    finish_all()
    assert schedules_fire(now=utc("2026-12-01T05:21")) == []
    assert Job.objects.count() == 1


def test_a_missed_slot_older_than_the_grace_period_does_not_fire(profile, settings):
    settings.PATRONSYNC_SCHEDULE_GRACE_MINUTES = 60
    scheduled(profile, sync_schedule="DAILY_0300", zone="UTC")
    assert schedules_fire(now=utc("2026-12-01T04:00:01")) == []  # 60 minutes and a second
    assert schedules_fire(now=utc("2026-12-02T03:59")) != []  # 59 minutes: still fires
    settings.PATRONSYNC_SCHEDULE_GRACE_MINUTES = 10
    finish_all()
    assert schedules_fire(now=utc("2026-12-03T03:11")) == []
    assert Job.objects.count() == 1


def test_inactive_or_unscheduled_sections_never_fire(profile):
    scheduled(profile, sync_active=False, sync_schedule="HOURLY", import_schedule="NOT_SCHEDULED")
    assert fired_slots(start=utc("2026-12-01T00:00"), end=utc("2026-12-01T03:00")) == []
    assert (
        section_next_runs(profile=IntegrationProfile.objects.get(), kind=JobKind.SYNCHRONIZE) == []
    )


def test_a_schedule_set_after_its_slot_does_not_fire_that_slot(profile):
    profile = scheduled(profile, sync_schedule="DAILY_0300", zone="UTC")
    IntegrationProfile.objects.filter(pk=profile.pk).update(
        schedule_changed_at=utc("2026-12-01T03:10")
    )
    assert schedules_fire(now=utc("2026-12-01T03:11")) == []
    jobs = schedules_fire(now=utc("2026-12-02T03:00"))
    assert [job.scheduled_for for job in jobs] == [utc("2026-12-02T03:00")]


def test_scheduled_sections_show_plain_words_and_next_runs(profile):
    scheduled(profile, sync_schedule="CRON", sync_cron="30 2 * * 1-5", import_schedule="DAILY_0300")
    after = utc("2026-12-04T12:00")  # a Friday
    sections = scheduled_sections(after=after, count=2)
    assert [(s.label, s.description) for s in sections] == [
        ("Import", "Every day at 03:00"),
        ("Synchronize", "At 02:30, Monday through Friday"),
    ]
    assert [run.isoformat() for run in sections[1].next_runs] == [
        "2026-12-07T02:30:00+01:00",
        "2026-12-08T02:30:00+01:00",
    ]


def test_schedule_list_command_prints_each_scheduled_section(profile, capsys):
    scheduled(profile, sync_schedule="CRON", sync_cron="30 2 * * 1-5", import_active=False,
              import_schedule="DAILY_0300")  # fmt: skip
    assert main(["schedule", "list", "--institution", profile.institution.code]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    code = profile.institution.code
    assert lines[0] == f"{code}  SIS  Import: Every day at 03:00; not active: does not run"
    assert lines[1].startswith(f"{code}  SIS  Synchronize: At 02:30, Monday through Friday; next ")
    assert lines[1].endswith("(Europe/Berlin)")
    assert " 02:30 CE" in lines[1]  # CET or CEST, the institution's wall clock


def test_schedule_list_says_when_nothing_is_scheduled(profile, capsys):
    assert main(["schedule", "list"]) == 0
    assert "No profile section is scheduled" in capsys.readouterr().out


def test_a_schedule_saved_around_its_check_is_logged_and_the_others_still_fire(profile, caplog):
    profile = scheduled(profile, import_schedule="DAILY_0300")
    IntegrationProfile.objects.filter(pk=profile.pk).update(
        sync_schedule="CRON", sync_cron="0 25 * * *"
    )
    jobs = schedules_fire(now=utc("2026-12-01T02:00:10"))
    assert [job.kind for job in jobs] == [JobKind.IMPORT]
    assert "profile SIS: its Synchronize schedule cannot run: '0 25 * * *'" in caplog.text
    profile = IntegrationProfile.objects.get()
    assert section_next_runs(profile=profile, kind=JobKind.SYNCHRONIZE) == []
    [sync] = [s for s in scheduled_sections() if s.kind == JobKind.SYNCHRONIZE]
    assert sync.description.startswith("Cannot run: '0 25 * * *' is not a valid cron expression")


@pytest.fixture(autouse=True)
def _drops_forgotten():
    """Each test starts with a scheduler that has said no dropped slot yet."""
    scheduler._dropped_said.clear()


def second_profile(profile, drop, code="SIS2"):
    """Another profile of the same institution, reading the same folders."""
    [item] = demo_config(drop)["profiles"]
    item = copy.deepcopy(item) | {"code": code, "name": f"Second {code}"}
    config_apply(institution=profile.institution, document={"profiles": [item]})
    return IntegrationProfile.objects.get(code=code)


def clock_of(*moments: datetime):
    """A clock that gives `moments` one call after the other, then the last one again."""
    left = list(moments)

    def clock() -> datetime:
        return left.pop(0) if len(left) > 1 else left[0]

    return clock


def test_a_slot_due_while_a_job_runs_fires_before_the_next_job(profile, drop):
    """The worker fires the schedules before each job: the 04:00 slot of SIS2, which came
    while SIS's 03:00 job ran (the clock says 04:30 when it ends), runs in the same pass."""
    scheduled(profile, import_active=True, import_schedule="DAILY_0300", sync_active=False,
              zone="UTC")  # fmt: skip
    other = second_profile(profile, drop)
    scheduled(other, sync_schedule="HOURLY", zone="UTC")
    IntegrationProfile.objects.filter(pk=other.pk).update(
        schedule_changed_at=utc("2026-12-01T03:30")
    )
    said: list[str] = []
    clock = clock_of(utc("2026-12-01T03:00:30"), utc("2026-12-01T04:30"), utc("2026-12-01T04:31"))
    ran = worker_pass(worker="test-worker", say=said.append, clock=clock)
    assert [(job.profile.code, job.scheduled_for) for job in ran] == [
        ("SIS", utc("2026-12-01T03:00")),
        ("SIS2", utc("2026-12-01T04:00")),
    ]
    assert all(job.status not in ("pending", "running") for job in ran)
    assert sum("scheduled for" in line for line in said) == 2


def test_a_slot_dropped_after_the_grace_period_is_logged_once(profile, drop, caplog, settings):
    """SIS's job ran for two and a half hours: SIS2's 04:00 slot is past the grace period
    when it ends. It does not fire, and a WARNING says so, once."""
    settings.PATRONSYNC_SCHEDULE_GRACE_MINUTES = 60
    scheduled(profile, import_active=True, import_schedule="DAILY_0300", sync_active=False,
              zone="UTC")  # fmt: skip
    other = second_profile(profile, drop)
    scheduled(other, sync_schedule="CRON", sync_cron="0 4 * * *", zone="UTC")
    IntegrationProfile.objects.filter(pk=other.pk).update(
        schedule_changed_at=utc("2026-12-01T03:30")
    )
    clock = clock_of(utc("2026-12-01T03:00:30"), utc("2026-12-01T05:30"))
    with caplog.at_level(logging.WARNING, logger="patronsync.jobs.scheduler"):
        ran = worker_pass(worker="test-worker", say=lambda line: None, clock=clock)
        assert schedules_fire(now=utc("2026-12-01T05:31")) == []
    assert [job.profile.code for job in ran] == ["SIS"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "profile SIS2: its scheduled Synchronize of 2026-12-01 04:00 (UTC) did not run: no "
        "scheduler fired it within the grace period (60 minutes, "
        "PATRONSYNC_SCHEDULE_GRACE_MINUTES); the next slot runs"
    ]
    assert not Job.objects.filter(profile=other).exists()


def test_a_fired_or_skipped_slot_is_not_said_dropped(profile, caplog):
    scheduled(profile, sync_schedule="DAILY_0300", zone="UTC")
    with caplog.at_level(logging.WARNING, logger="patronsync.jobs.scheduler"):
        assert len(schedules_fire(now=utc("2026-12-01T03:00:10"))) == 1
        finish_all()
        assert schedules_fire(now=utc("2026-12-01T05:00")) == []
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]


def test_editing_the_description_after_a_slot_does_not_cancel_it(profile):
    """The worker was down from 02:55 to 03:10; someone edited the profile at 03:05: the
    03:00 slot still runs when the worker is back."""
    profile = scheduled(profile, sync_schedule="DAILY_0300", zone="UTC")
    profile_update(profile=profile, values={"description": "Edited at 03:05"}, actor="tests")
    profile_update(profile=profile, values={"subscribers": "ops@example.edu"}, actor="tests")
    assert IntegrationProfile.objects.get().schedule_changed_at == LONG_AGO
    jobs = schedules_fire(now=utc("2026-12-01T03:10"))
    assert [job.scheduled_for for job in jobs] == [utc("2026-12-01T03:00")]


def a_minute_ago_cron() -> tuple[str, datetime]:
    """A daily cron (UTC) whose latest slot is two minutes ago, and that slot."""
    slot = timezone.now().astimezone(UTC).replace(second=0, microsecond=0) - timedelta(minutes=2)
    return f"{slot.minute} {slot.hour} * * *", slot


def test_editing_the_profile_on_the_real_clock_keeps_the_due_slot(profile):
    cron, slot = a_minute_ago_cron()
    profile = scheduled(profile, sync_schedule="CRON", sync_cron=cron, zone="UTC")
    profile_update(profile=profile, values={"description": "Edited now"}, actor="tests")
    assert [job.scheduled_for for job in schedules_fire()] == [slot]


def test_changing_the_schedule_after_a_slot_cancels_it(profile):
    """The schedule set now does not run its slot of two minutes ago, which it did not have."""
    cron, slot = a_minute_ago_cron()
    profile = scheduled(profile, sync_schedule="HOURLY", zone="UTC")
    profile_update(profile=profile, values={"sync_schedule": "CRON", "sync_cron": cron},
                   actor="tests")  # fmt: skip
    changed = IntegrationProfile.objects.get().schedule_changed_at
    assert changed is not None
    assert changed > slot
    assert schedules_fire() == []
    assert not Job.objects.exists()


def test_config_apply_moves_the_schedule_time_only_when_the_schedule_changes(profile, drop):
    profile = scheduled(profile, sync_schedule="HOURLY", zone="UTC")
    document = demo_config(drop)
    document["profiles"][0]["synchronize"]["schedule"] = "HOURLY"
    document["profiles"][0]["description"] = "Changed by config apply"
    config_apply(institution=profile.institution, document=document)
    assert IntegrationProfile.objects.get().schedule_changed_at == LONG_AGO
    document["profiles"][0]["synchronize"]["active"] = False
    config_apply(institution=profile.institution, document=document)
    assert IntegrationProfile.objects.get().schedule_changed_at > LONG_AGO
