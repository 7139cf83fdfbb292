"""When a profile section runs: its schedule as cron, checked, in plain words, and its run times.

Pure Python, no ORM. Alma's fixed slots (`Schedule`) are cron expressions too, so a fixed slot
and a `CRON` schedule go through one code path: croniter finds the wall-clock times of the
institution's time zone, and `_instant` turns each into a real instant.

Daylight saving changes neither skip nor double a run:

- a wall-clock time that does not exist on the spring-forward day (02:30 when clocks jump from
  02:00 to 03:00) runs once, at the first instant after the gap (03:00); several such times of
  one gap (every 15 minutes) run once together;
- a wall-clock time that occurs twice on the fall-back day (02:30 when clocks go back from
  03:00 to 02:00) runs once, at its first occurrence;
- except for schedules whose hour field is `*` (every hour, every 15 minutes): they are
  intervals, not wall-clock slots, and run at each real instant whose wall-clock time matches:
  at both occurrences of a repeated hour, and not in a missing hour, so that they run every
  real hour (or quarter) and no instant runs twice.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise
from zoneinfo import ZoneInfo

from cron_descriptor import ExpressionDescriptor, Options
from croniter import CroniterBadCronError, CroniterBadDateError, croniter

from .choices import Schedule

# Alma's fixed menu, as cron expressions (minute hour day-of-month month day-of-week).
FIXED_SLOTS: dict[str, str] = {
    Schedule.HOURLY: "0 * * * *",
    Schedule.EVERY_6_HOURS: "0 4,10,16,22 * * *",
    Schedule.DAILY_0100: "0 1 * * *",
    Schedule.DAILY_0300: "0 3 * * *",
    Schedule.DAILY_0500: "0 5 * * *",
    Schedule.DAILY_0700: "0 7 * * *",
    Schedule.DAILY_1100: "0 11 * * *",
    Schedule.WEEKLY_MON_0200: "0 2 * * 1",
}
CRON_FIELDS = "minute hour day-of-month month day-of-week"
MIN_INTERVAL_MINUTES = 5
# More than any change of a zone's UTC offset (daylight saving moves clocks by an hour, two at
# most): croniter starts this far before the first wall-clock time wanted, and a run is final
# once croniter's wall clock has moved this far past it.
_MARGIN = timedelta(hours=3)
_GAP_LIMIT = 2 * 24 * 60  # minutes a gap in local time may last (Samoa skipped a whole day)


class ScheduleError(ValueError):
    """A schedule that cannot run: which field (`schedule` or `cron`) and what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def schedule_cron(*, schedule: str, cron: str) -> str | None:
    """The cron expression a section runs on, or None when it is not scheduled; raises
    ScheduleError for a schedule that cannot run (one saved around `profile_check`)."""
    schedule_validate(schedule=schedule, cron=cron)
    if schedule == Schedule.NOT_SCHEDULED:
        return None
    if schedule == Schedule.CRON:
        return cron.strip()
    return FIXED_SLOTS[schedule]


def schedule_validate(*, schedule: str, cron: str) -> None:
    """Raise ScheduleError when the schedule and its cron expression do not make a schedule.

    CRON needs an expression of five fields (no seconds field) that croniter reads, that runs
    at some time, and that runs at most every 5 minutes: a job of a million users takes a
    minute or more, and a schedule that fires faster only piles up skipped runs. Any other
    schedule takes no expression.
    """
    expression = cron.strip()
    if schedule not in Schedule.values:
        raise ScheduleError("schedule", f"{schedule!r} is not a schedule; expected one of "
                            f"{', '.join(Schedule.values)}")  # fmt: skip
    if schedule != Schedule.CRON:
        if expression:
            raise ScheduleError(
                "cron",
                f"a cron expression ({expression!r}) is set but the schedule is {schedule}; "
                f"set the schedule to {Schedule.CRON} to use it, or remove it",
            )
        return
    if not expression:
        raise ScheduleError(
            "cron",
            f"the schedule is {Schedule.CRON} but no cron expression is set; expected five "
            f'fields ({CRON_FIELDS}), e.g. "30 2 * * 1-5" for 02:30 Monday to Friday',
        )
    fields = expression.split()
    if len(fields) != 5:
        extra = " (a sixth field, seconds, is not supported)" if len(fields) == 6 else ""
        raise ScheduleError(
            "cron",
            f"{expression!r} has {len(fields)} field(s){extra}; expected five ({CRON_FIELDS}), "
            'e.g. "30 2 * * 1-5"',
        )
    try:
        iterator = croniter(expression, datetime(2000, 1, 1))
        iterator.get_next(datetime)
    except CroniterBadCronError as exc:
        raise ScheduleError(
            "cron", f"{expression!r} is not a valid cron expression: {exc}"
        ) from None
    except CroniterBadDateError:
        raise ScheduleError("cron", f"{expression!r} never runs (no date matches it)") from None
    gap = _shortest_gap(iterator.expanded)
    if gap < MIN_INTERVAL_MINUTES:
        raise ScheduleError(
            "cron",
            f"{expression!r} runs {gap} minute(s) after a previous run; a schedule may run at "
            f"most every {MIN_INTERVAL_MINUTES} minutes, because a job of a million users takes "
            "a minute or more",
        )


def _shortest_gap(expanded: list[list[int | str]]) -> int:
    """The fewest minutes between two runs of a cron expression, from its expanded fields."""
    minutes = sorted(range(60) if expanded[0] == ["*"] else {int(m) for m in expanded[0]})
    hours = set(range(24) if expanded[1] == ["*"] else {int(h) for h in expanded[1]})
    gaps = [b - a for a, b in pairwise(minutes)]
    # From the last minute of one hour to the first of the next, when both hours run (23 and
    # 0 counts: it does on consecutive days).
    if any((hour + 1) % 24 in hours for hour in hours):
        gaps.append(60 - minutes[-1] + minutes[0])
    return min(gaps, default=60)


def schedule_description(*, schedule: str, cron: str) -> str:
    """A schedule in plain words: Alma's words for a fixed slot, cron-descriptor's for CRON,
    or what is wrong with it."""
    try:
        schedule_validate(schedule=schedule, cron=cron)
    except ScheduleError as exc:
        return f"Cannot run: {exc.message}"
    if schedule != Schedule.CRON:
        return str(Schedule(schedule).label)
    options = Options()
    options.use_24hour_time_format = True
    return str(ExpressionDescriptor(cron.strip(), options).get_description())


def schedule_next_runs(
    *, schedule: str, cron: str, time_zone: str, after: datetime, count: int = 5
) -> list[datetime]:
    """The next `count` runs strictly after `after` (aware), in `time_zone` (`_in_zone`); []
    when the section is not scheduled. Raises ScheduleError for a schedule that cannot run."""
    expression = schedule_cron(schedule=schedule, cron=cron)
    if expression is None:
        return []
    zone = ZoneInfo(time_zone)
    runs: list[datetime] = []
    for run in _runs(expression, zone, after, forward=True):
        runs.append(_in_zone(run, zone))
        if len(runs) == count:
            break
    return runs


def schedule_last_run(*, schedule: str, cron: str, time_zone: str, at: datetime) -> datetime | None:
    """The latest run at or before `at` (aware), in `time_zone` (`_in_zone`); None when not
    scheduled. Raises ScheduleError for a schedule that cannot run."""
    expression = schedule_cron(schedule=schedule, cron=cron)
    if expression is None:
        return None
    zone = ZoneInfo(time_zone)
    run = next(_runs(expression, zone, at + timedelta(microseconds=1), forward=False), None)
    return None if run is None else _in_zone(run, zone)


def _in_zone(instant: datetime, zone: ZoneInfo) -> datetime:
    """An instant as the zone shows it, with the fixed UTC offset (and name: CET, CEST) it has
    there then. Not a ZoneInfo datetime: two of those in one zone compare and subtract as
    wall-clock times, and one in a repeated hour never equals another zone's; these are exact.
    """
    local = instant.astimezone(zone)
    offset = local.utcoffset() or timedelta(0)
    return local.replace(tzinfo=timezone(offset, local.tzname() or str(zone)))


def _runs(expression: str, zone: ZoneInfo, start: datetime, *, forward: bool) -> Iterator[datetime]:
    """The runs after `start` (forward) or before it (backward), in order, each once, in UTC.

    croniter walks the wall-clock times of the zone (naive datetimes); each becomes one or two
    instants (`_instants`), which a heap puts in order: a run is final once croniter's wall
    clock has moved more than `_MARGIN` past it.
    """
    interval = expression.split()[1] == "*"
    sign = 1 if forward else -1
    local = start.astimezone(zone).replace(tzinfo=None)
    iterator = croniter(expression, local - sign * _MARGIN, is_prev=not forward)
    heap: list[tuple[float, datetime]] = []
    last: datetime | None = None
    try:
        while True:
            wall: datetime = iterator.get_next(datetime) if forward else iterator.get_prev(datetime)
            for instant in _instants(wall, zone, interval=interval):
                if (instant > start) if forward else (instant < start):
                    heapq.heappush(heap, (sign * instant.timestamp(), instant))
            offset = zone.utcoffset(wall) or timedelta(0)
            frontier = (wall - offset).replace(tzinfo=UTC) - sign * _MARGIN
            while heap and sign * (frontier - heap[0][1]).total_seconds() >= 0:
                _, instant = heapq.heappop(heap)
                if instant != last:
                    last = instant
                    yield instant
    except CroniterBadDateError:
        # No further wall-clock time matches: what is left in the heap is final.
        while heap:
            _, instant = heapq.heappop(heap)
            if instant != last:
                last = instant
                yield instant


def _instants(wall: datetime, zone: ZoneInfo, *, interval: bool) -> list[datetime]:
    """The real instants (UTC) a wall-clock time of `zone` stands for.

    One, normally. A time in a spring-forward gap stands for the first instant after the gap,
    or for none when the schedule is an interval (real time goes on: an hourly run at 01:00
    is followed an hour later by the one at 03:00). A time that occurs twice (fall back) stands
    for its first occurrence, or for both when the schedule is an interval.
    """
    first = wall.replace(tzinfo=zone, fold=0)
    if _exists(first):
        second = wall.replace(tzinfo=zone, fold=1)
        if second.utcoffset() != first.utcoffset():  # fall back: the time occurs twice
            both = [first.astimezone(UTC), second.astimezone(UTC)]
            return both if interval else both[:1]
        return [first.astimezone(UTC)]
    if interval:
        return []
    after = wall.replace(second=0, microsecond=0)
    for _ in range(_GAP_LIMIT):
        after += timedelta(minutes=1)
        candidate = after.replace(tzinfo=zone)
        if _exists(candidate):
            return [candidate.astimezone(UTC)]
    return []  # a gap longer than two days: no zone has one


def _exists(moment: datetime) -> bool:
    """Whether an aware local time exists (is not in a spring-forward gap)."""
    zone = moment.tzinfo
    back = moment.astimezone(UTC).astimezone(zone)
    return back.replace(tzinfo=None) == moment.replace(tzinfo=None)
