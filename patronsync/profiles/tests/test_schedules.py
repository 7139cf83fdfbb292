"""Schedules as run times: Alma's fixed slots and cron expressions, across daylight saving;
and the schedule fields of `config apply` and the API.

The run times are pure (no database). The transitions are real ones of 2026 (zoneinfo's tz
database).
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml

from patronsync.api.tests.conftest import admin_api, viewer_api
from patronsync.core.exceptions import ConfigurationError
from patronsync.demo.services import demo_config
from patronsync.loader.tests.conftest import drop, profile
from patronsync.profiles.choices import Schedule
from patronsync.profiles.models import IntegrationProfile
from patronsync.profiles.schedules import (
    FIXED_SLOTS,
    ScheduleError,
    schedule_description,
    schedule_last_run,
    schedule_next_runs,
    schedule_validate,
)
from patronsync.profiles.services import config_apply, config_apply_file

__all__ = ["admin_api", "drop", "profile", "viewer_api"]

# (zone, day of the change, "spring" when clocks jump forward, "fall" when they go back)
TRANSITIONS = [
    ("Europe/Berlin", "2026-03-29", "spring"),  # 02:00 -> 03:00
    ("Europe/Berlin", "2026-10-25", "fall"),  # 03:00 -> 02:00
    ("America/New_York", "2026-03-08", "spring"),  # 02:00 -> 03:00
    ("America/New_York", "2026-11-01", "fall"),  # 02:00 -> 01:00
    ("Australia/Sydney", "2026-10-04", "spring"),  # 02:00 -> 03:00
    ("Australia/Sydney", "2026-04-05", "fall"),  # 03:00 -> 02:00
]
WALL_CLOCK_SLOTS = [
    "0 1 * * *",
    "30 1 * * *",
    "0 2 * * *",
    "30 2 * * *",
    "59 2 * * *",
    "0 3 * * *",
    "15 3 * * *",
]


def runs(schedule, cron="", *, zone, after, count=5):
    """The next runs as local ISO texts with their offsets."""
    found = schedule_next_runs(
        schedule=schedule, cron=cron, time_zone=zone, after=after, count=count
    )
    return [run.isoformat() for run in found]


def local(zone, text):
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


def days_around(zone, day):
    """Local midnight two days before a transition day, and the five days from there."""
    start = local(zone, day) - timedelta(days=2)
    return start, [(start + timedelta(days=n)).date() for n in range(5)]


# Fixed slots ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        (Schedule.HOURLY, ["2026-12-01T10:00:00+01:00", "2026-12-01T11:00:00+01:00"]),
        (Schedule.EVERY_6_HOURS, ["2026-12-01T10:00:00+01:00", "2026-12-01T16:00:00+01:00",
                                  "2026-12-01T22:00:00+01:00", "2026-12-02T04:00:00+01:00"]),
        (Schedule.DAILY_0100, ["2026-12-02T01:00:00+01:00", "2026-12-03T01:00:00+01:00"]),
        (Schedule.DAILY_0300, ["2026-12-02T03:00:00+01:00", "2026-12-03T03:00:00+01:00"]),
        (Schedule.DAILY_0500, ["2026-12-02T05:00:00+01:00", "2026-12-03T05:00:00+01:00"]),
        (Schedule.DAILY_0700, ["2026-12-02T07:00:00+01:00", "2026-12-03T07:00:00+01:00"]),
        (Schedule.DAILY_1100, ["2026-12-01T11:00:00+01:00", "2026-12-02T11:00:00+01:00"]),
        # 2026-12-01 is a Tuesday: the next Mondays are the 7th and the 14th.
        (Schedule.WEEKLY_MON_0200, ["2026-12-07T02:00:00+01:00", "2026-12-14T02:00:00+01:00"]),
    ],
)  # fmt: skip
def test_each_fixed_slot_runs_at_its_wall_clock_times(schedule, expected):
    after = local("Europe/Berlin", "2026-12-01T09:30")
    assert runs(schedule, zone="Europe/Berlin", after=after, count=len(expected)) == expected


def test_every_fixed_slot_of_alma_menu_has_a_cron_expression():
    scheduled = set(Schedule.values) - {Schedule.NOT_SCHEDULED, Schedule.CRON}
    assert set(FIXED_SLOTS) == scheduled


def test_not_scheduled_never_runs():
    after = datetime(2026, 12, 1, tzinfo=UTC)
    assert runs(Schedule.NOT_SCHEDULED, zone="UTC", after=after) == []
    at = datetime(2026, 12, 1, tzinfo=UTC)
    assert (
        schedule_last_run(schedule=Schedule.NOT_SCHEDULED, cron="", time_zone="UTC", at=at) is None
    )


def test_next_runs_are_strictly_after_and_in_the_institution_time_zone():
    after = local("America/New_York", "2026-12-01T03:00")
    assert runs(Schedule.DAILY_0300, zone="America/New_York", after=after, count=2) == [
        "2026-12-02T03:00:00-05:00",
        "2026-12-03T03:00:00-05:00",
    ]
    found = schedule_next_runs(
        schedule=Schedule.DAILY_0300, cron="", time_zone="Asia/Tokyo", after=after
    )
    assert len(found) == 5
    assert all(run.utcoffset() == timedelta(hours=9) for run in found)


def test_cron_expression_runs_on_its_days():
    # 2026-12-04 is a Friday: Monday to Friday skips the weekend.
    after = local("Europe/Berlin", "2026-12-03T12:00")
    assert runs(Schedule.CRON, "30 2 * * 1-5", zone="Europe/Berlin", after=after, count=3) == [
        "2026-12-04T02:30:00+01:00",
        "2026-12-07T02:30:00+01:00",
        "2026-12-08T02:30:00+01:00",
    ]


def test_last_run_is_at_or_before_the_moment():
    at = local("Europe/Berlin", "2026-12-02T03:00")
    last = schedule_last_run(
        schedule=Schedule.DAILY_0300, cron="", time_zone="Europe/Berlin", at=at
    )
    assert last == at
    before = at - timedelta(seconds=1)
    last = schedule_last_run(
        schedule=Schedule.DAILY_0300, cron="", time_zone="Europe/Berlin", at=before
    )
    assert last == at - timedelta(days=1)


# Daylight saving ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("zone", "day", "change"), TRANSITIONS)
@pytest.mark.parametrize("cron", [*WALL_CLOCK_SLOTS, "0 2 * * 0", "30 2 * * 0-6"])
def test_a_daily_wall_clock_slot_runs_once_each_day_across_a_change(zone, day, change, cron):
    start, days = days_around(zone, day)
    found = schedule_next_runs(
        schedule=Schedule.CRON, cron=cron, time_zone=zone, after=start, count=30
    )
    if cron.endswith(" 0"):  # Sundays only: every change here is on a Sunday
        found_days = [run.date() for run in found if run.date() in days]
        assert found_days == [d for d in days if d.weekday() == 6]
        return
    in_window = [run for run in found if run.date() in days]
    assert [run.date() for run in in_window] == days  # one run a day: none skipped or doubled
    assert len({run.astimezone(UTC) for run in found}) == len(found)


@pytest.mark.parametrize(("zone", "day", "change"), TRANSITIONS)
@pytest.mark.parametrize("cron", ["0 * * * *", "*/15 * * * *", "5,35 * * * *"])
def test_an_interval_runs_at_every_real_interval_across_a_change(zone, day, change, cron):
    """Hour field `*`: an interval. It runs every real hour (or quarter, or half hour) across
    the change: the repeated hour of a fall-back runs twice on the wall clock, once per real
    instant; the missing hour of a spring-forward is simply not there."""
    start = local(zone, day) - timedelta(hours=2)
    found = schedule_next_runs(
        schedule=Schedule.CRON, cron=cron, time_zone=zone, after=start, count=60
    )
    steps = {(b - a) for a, b in itertools.pairwise(found)}
    if cron == "5,35 * * * *":
        assert steps == {timedelta(minutes=30)}
    else:
        assert steps == {timedelta(minutes=60 if cron == "0 * * * *" else 15)}


@pytest.mark.parametrize(
    ("zone", "cron", "after", "expected"),
    [
        # Spring forward: the time that does not exist runs once, when the gap ends.
        ("Europe/Berlin", "30 2 * * *", "2026-03-28T12:00",
         ["2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"]),
        ("America/New_York", "30 2 * * *", "2026-03-07T12:00",
         ["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"]),
        ("Australia/Sydney", "30 2 * * *", "2026-10-03T12:00",
         ["2026-10-04T03:00:00+11:00", "2026-10-05T02:30:00+11:00"]),
        # Every quarter of the missing hour: once, together, at 03:00.
        ("Europe/Berlin", "*/15 2 * * *", "2026-03-28T23:00",
         ["2026-03-29T03:00:00+02:00", "2026-03-30T02:00:00+02:00"]),
        # A slot right after the gap is not doubled by the gap's own run.
        ("Europe/Berlin", "30 2,3 * * *", "2026-03-28T23:00",
         ["2026-03-29T03:00:00+02:00", "2026-03-29T03:30:00+02:00",
          "2026-03-30T02:30:00+02:00"]),
        # Fall back: the time that occurs twice runs once, at its first occurrence.
        ("Europe/Berlin", "30 2 * * *", "2026-10-24T12:00",
         ["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"]),
        ("America/New_York", "30 1 * * *", "2026-10-31T12:00",
         ["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"]),
        ("Australia/Sydney", "30 2 * * *", "2026-04-04T12:00",
         ["2026-04-05T02:30:00+11:00", "2026-04-06T02:30:00+10:00"]),
        # 03:00 comes once in Sydney's fall back (02:00 to 02:59 are the repeated hour).
        ("Australia/Sydney", "0 3 * * *", "2026-04-04T12:00",
         ["2026-04-05T03:00:00+10:00", "2026-04-06T03:00:00+10:00"]),
        # Every hour: the repeated hour runs at both of its real instants.
        ("Europe/Berlin", "0 * * * *", "2026-10-25T01:30",
         ["2026-10-25T02:00:00+02:00", "2026-10-25T02:00:00+01:00",
          "2026-10-25T03:00:00+01:00"]),
        ("Europe/Berlin", "0 * * * *", "2026-03-29T00:30",
         ["2026-03-29T01:00:00+01:00", "2026-03-29T03:00:00+02:00",
          "2026-03-29T04:00:00+02:00"]),
    ],
)  # fmt: skip
def test_daylight_saving_neither_skips_nor_doubles(zone, cron, after, expected):
    assert runs(Schedule.CRON, cron, zone=zone, after=local(zone, after), count=len(expected)) == (
        expected
    )


def test_last_run_on_a_change_day_is_the_run_the_next_runs_name():
    zone = "Europe/Berlin"
    at = local(zone, "2026-03-29T03:10")
    last = schedule_last_run(schedule=Schedule.CRON, cron="30 2 * * *", time_zone=zone, at=at)
    assert last is not None
    assert last.isoformat() == "2026-03-29T03:00:00+02:00"
    # On the fall-back day, the second 02:30 (CET) is not a run: the last is the first one.
    at = datetime(2026, 10, 25, 1, 40, tzinfo=UTC)  # 02:40 CET, the second time round
    last = schedule_last_run(schedule=Schedule.CRON, cron="30 2 * * *", time_zone=zone, at=at)
    assert last is not None
    assert last.isoformat() == "2026-10-25T02:30:00+02:00"


@pytest.mark.parametrize(("zone", "day", "change"), TRANSITIONS)
@pytest.mark.parametrize("schedule", list(FIXED_SLOTS))
def test_last_and_next_runs_agree_minute_by_minute_across_a_change(zone, day, change, schedule):
    """Every minute of the change day, the last run at or before it and the next run after it
    are consecutive runs of the same list: the scheduler and the next-runs view agree."""
    start = local(zone, day).astimezone(UTC) - timedelta(hours=1)
    expected = schedule_next_runs(
        schedule=schedule, cron="", time_zone=zone, after=start - timedelta(days=8), count=400
    )
    expected = [run.astimezone(UTC) for run in expected]
    for minute in range(0, 26 * 60, 7):
        at = start + timedelta(minutes=minute)
        last = schedule_last_run(schedule=schedule, cron="", time_zone=zone, at=at)
        assert last is not None
        assert last == max(run for run in expected if run <= at)
        following = schedule_next_runs(
            schedule=schedule, cron="", time_zone=zone, after=at, count=1
        )
        assert following[0] == min(run for run in expected if run > at)


# Validation ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "cron", "field", "words"),
    [
        (Schedule.CRON, "", "cron", "no cron expression is set"),
        (Schedule.CRON, "   ", "cron", "no cron expression is set"),
        (Schedule.DAILY_0300, "30 2 * * *", "cron", "the schedule is DAILY_0300"),
        (Schedule.NOT_SCHEDULED, "30 2 * * *", "cron", "set the schedule to CRON"),
        (Schedule.CRON, "0 2 * * * *", "cron", "a sixth field, seconds, is not supported"),
        (Schedule.CRON, "0 2 * *", "cron", "has 4 field(s); expected five"),
        (Schedule.CRON, "@daily", "cron", "expected five"),
        (Schedule.CRON, "61 2 * * *", "cron", "is not a valid cron expression"),
        (Schedule.CRON, "0 25 * * *", "cron", "is not a valid cron expression"),
        (Schedule.CRON, "0 2 * * mon-fryday", "cron", "is not a valid cron expression"),
        (Schedule.CRON, "0 0 30 2 *", "cron", "never runs"),
        (Schedule.CRON, "* * * * *", "cron", "runs 1 minute(s) after a previous run"),
        (Schedule.CRON, "*/2 * * * *", "cron", "at most every 5 minutes"),
        (Schedule.CRON, "0,3 * * * *", "cron", "a job of a million users takes a minute"),
        # 00:58 and 01:00: two minutes apart across the hour.
        (Schedule.CRON, "0,58 0,1 * * *", "cron", "runs 2 minute(s)"),
        ("NEVER", "", "schedule", "is not a schedule"),
    ],
)
def test_invalid_schedules_are_refused_with_what_is_wrong(schedule, cron, field, words):
    with pytest.raises(ScheduleError) as caught:
        schedule_validate(schedule=schedule, cron=cron)
    assert caught.value.field == field
    assert words in caught.value.message
    if cron.strip():
        assert repr(cron.strip()) in caught.value.message  # it names the expression


@pytest.mark.parametrize(
    "cron", ["*/5 * * * *", "30 2 * * 1-5", "0 4,10,16,22 * * *", "58 0,12 * * *", "0 0 29 2 *"]
)
def test_valid_cron_expressions_are_accepted(cron):
    schedule_validate(schedule=Schedule.CRON, cron=cron)


@pytest.mark.parametrize("schedule", [s for s in Schedule.values if s != Schedule.CRON])
def test_fixed_slots_need_no_expression(schedule):
    schedule_validate(schedule=schedule, cron="")


def test_schedules_are_described_in_plain_words():
    assert schedule_description(schedule=Schedule.DAILY_0300, cron="") == "Every day at 03:00"
    assert schedule_description(schedule=Schedule.NOT_SCHEDULED, cron="") == "Not scheduled"
    assert (
        schedule_description(schedule=Schedule.CRON, cron="30 2 * * 1-5")
        == "At 02:30, Monday through Friday"
    )
    assert schedule_description(schedule=Schedule.CRON, cron="*/15 * * * *") == "Every 15 minutes"


# Saving a schedule: config apply and the API ------------------------------------------------------


def config_with(drop, **sections):
    """The quick start's configuration, with the sections' values given."""
    document = demo_config(drop)
    for section, values in sections.items():
        document["profiles"][0][section].update(values)
    return document


@pytest.mark.django_db
def test_config_apply_takes_each_section_schedule(tmp_path, institution, drop):
    path = tmp_path / "patronsync.yaml"
    document = config_with(
        drop,
        **{"import": {"schedule": "DAILY_0300"}},
        synchronize={"schedule": "CRON", "cron": "30 2 * * 1-5"},
    )
    path.write_text(yaml.safe_dump(document))
    assert config_apply_file(institution=institution, path=path)[-1] == "profile SIS: created"
    profile = IntegrationProfile.objects.get()
    assert (profile.import_schedule, profile.import_cron) == ("DAILY_0300", "")
    assert (profile.sync_schedule, profile.sync_cron) == ("CRON", "30 2 * * 1-5")
    assert config_apply_file(institution=institution, path=path)[-1] == "profile SIS: unchanged"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("sections", "place", "words"),
    [
        ({"synchronize": {"schedule": "CRON", "cron": "30 25 * * *"}},
         "profiles[0].synchronize.cron", "'30 25 * * *' is not a valid cron expression"),
        ({"synchronize": {"schedule": "CRON", "cron": "*/1 * * * *"}},
         "profiles[0].synchronize.cron", "at most every 5 minutes"),
        ({"synchronize": {"schedule": "CRON", "cron": "0 30 2 * * *"}},
         "profiles[0].synchronize.cron", "seconds, is not supported"),
        ({"synchronize": {"schedule": "CRON"}},
         "profiles[0].synchronize.cron", "no cron expression is set"),
        ({"import": {"schedule": "DAILY_0300", "cron": "0 3 * * *"}},
         "profiles[0].import.cron", "set the schedule to CRON"),
        ({"import": {"schedule": "DAILY_0400"}},
         "profiles[0].import", "import_schedule is 'DAILY_0400'; expected one of"),
    ],
)  # fmt: skip
def test_config_apply_refuses_a_bad_schedule_naming_its_place(institution, drop, sections, place,
                                                               words):  # fmt: skip
    document = config_with(drop, **sections)
    with pytest.raises(ConfigurationError) as caught:
        config_apply(institution=institution, document=document, source="patronsync.yaml")
    message = str(caught.value)
    assert message.startswith(f"patronsync.yaml: {place}: ")
    assert words in message
    assert not IntegrationProfile.objects.exists()


@pytest.mark.django_db
def test_api_shows_each_section_schedule_in_words_with_its_next_runs(viewer_api, profile):
    profile.institution.time_zone = "Europe/Berlin"
    profile.institution.save()
    IntegrationProfile.objects.filter(pk=profile.pk).update(
        import_schedule="WEEKLY_MON_0200", sync_schedule="CRON", sync_cron="30 2 * * 1-5"
    )
    body = viewer_api.get("/api/v1/profiles/SIS").json()
    assert body["import_schedule"] == "WEEKLY_MON_0200"
    assert body["import_schedule_description"] == "Every Monday at 02:00"
    assert body["sync_schedule"] == "CRON"
    assert body["sync_cron"] == "30 2 * * 1-5"
    assert body["sync_schedule_description"] == "At 02:30, Monday through Friday"
    for key, wall in (("import_next_runs", "02:00"), ("sync_next_runs", "02:30")):
        runs = [datetime.fromisoformat(text) for text in body[key]]
        assert len(runs) == 5
        assert runs == sorted(runs)
        assert runs[0] > datetime.now(UTC)
        assert all(f"{run:%H:%M}" == wall for run in runs)
        assert all(run.utcoffset() in (timedelta(hours=1), timedelta(hours=2)) for run in runs)
    assert all(run.weekday() == 0 for run in map(datetime.fromisoformat, body["import_next_runs"]))


@pytest.mark.django_db
def test_api_shows_no_next_runs_for_an_unscheduled_or_inactive_section(viewer_api, profile):
    IntegrationProfile.objects.filter(pk=profile.pk).update(
        import_active=False, import_schedule="HOURLY"
    )
    body = viewer_api.get("/api/v1/profiles/SIS").json()
    assert body["import_schedule_description"] == "Every hour"
    assert body["import_next_runs"] == []
    assert body["sync_schedule_description"] == "Not scheduled"
    assert body["sync_next_runs"] == []


@pytest.mark.django_db
def test_api_saves_a_schedule_and_refuses_a_bad_cron_on_its_field(admin_api, profile):
    changed = admin_api.patch(
        "/api/v1/profiles/SIS",
        {"import_schedule": "CRON", "import_cron": "0 6 * * 1"},
        format="json",
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["import_schedule_description"] == "At 06:00, only on Monday"
    assert IntegrationProfile.objects.get().import_cron == "0 6 * * 1"

    refused = admin_api.patch("/api/v1/profiles/SIS", {"import_cron": "0 6 * * 8"}, format="json")
    assert refused.status_code == 400
    assert "'0 6 * * 8' is not a valid cron expression" in " ".join(refused.json()["import_cron"])
    refused = admin_api.patch("/api/v1/profiles/SIS", {"sync_schedule": "CRON"}, format="json")
    assert refused.status_code == 400
    assert "no cron expression is set" in " ".join(refused.json()["sync_cron"])
    profile = IntegrationProfile.objects.get()
    assert (profile.import_cron, profile.sync_schedule) == ("0 6 * * 1", "NOT_SCHEDULED")
