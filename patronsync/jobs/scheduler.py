"""The scheduler: creates the jobs whose scheduled slot has come (`schedules_fire`).

Whoever calls it every minute (the embedded worker, celery beat) only calls it; the rules live
here. A slot is a run time of a section's schedule (`profiles.schedules`), in the institution's
time zone, stored on the job in UTC (`Job.scheduled_for`).

- Only the latest slot at or before `now` can fire: slots missed while no scheduler ran are
  not caught up one by one; the latest fires once, unless it is older than the grace period
  (`PATRONSYNC_SCHEDULE_GRACE_MINUTES`).
- A slot has fired when a job of the profile and kind has that `scheduled_for` or a later one.
  The database's unique constraint (`one_job_per_scheduled_slot`) makes two schedulers firing
  the same slot give one job.
- A slot from before the section's schedule was last changed (`schedule_changed_at`: its
  schedule, cron or active flag; other edits of the profile do not count) never fires: a
  schedule set or changed at 03:10 does not run the 03:00 slot it did not have. A profile
  with no such time (saved around the profile services) has no such limit.
- A slot that did not fire within the grace period is logged (a WARNING naming the profile,
  the section and the slot), once per process.
- A slot that comes while a job of the profile is pending or running is skipped, not queued:
  a line in that job's log says so (the administrator reads it where the delay comes from),
  once, and a later call does not fire the slot when that job ends.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from patronsync.core.models import Institution
from patronsync.profiles.choices import Schedule
from patronsync.profiles.models import IntegrationProfile
from patronsync.profiles.schedules import (
    ScheduleError,
    schedule_description,
    schedule_last_run,
    schedule_next_runs,
)

from .choices import ACTIVE_STATUSES, JobKind, JobStatus, JobTrigger
from .exceptions import JobAlreadyRunning, SectionNotActive
from .models import Job
from .modes import mode_of
from .runner import log_appended, log_line
from .services import job_create

__all__ = [
    "SECTIONS",
    "ScheduledSection",
    "scheduled_sections",
    "schedules_fire",
    "section_next_runs",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Section:
    """Where a kind of job keeps its schedule on the profile."""

    kind: str
    active: str
    schedule: str
    cron: str


SECTIONS = (
    Section(JobKind.IMPORT, "import_active", "import_schedule", "import_cron"),
    Section(JobKind.SYNCHRONIZE, "sync_active", "sync_schedule", "sync_cron"),
)


def _section(kind: str) -> Section:
    return next(section for section in SECTIONS if section.kind == kind)


def section_next_runs(
    *, profile: IntegrationProfile, kind: str, after: datetime | None = None, count: int = 5
) -> list[datetime]:
    """The next runs of a profile section's schedule, in its institution's time zone; [] when
    the section is not scheduled, not active (an inactive section never runs), or its schedule
    cannot run (its description says why)."""
    section = _section(kind)
    if not getattr(profile, section.active):
        return []
    try:
        return schedule_next_runs(
            schedule=getattr(profile, section.schedule),
            cron=getattr(profile, section.cron),
            time_zone=profile.institution.time_zone,
            after=after or timezone.now(),
            count=count,
        )
    except ScheduleError:
        return []


@dataclass(frozen=True)
class ScheduledSection:
    """A profile section that has a schedule, in plain words, with its next runs."""

    profile: IntegrationProfile
    kind: str
    label: str
    active: bool
    description: str
    next_runs: list[datetime]


def scheduled_sections(
    *, institution: Institution | None = None, after: datetime | None = None, count: int = 1
) -> list[ScheduledSection]:
    """Every profile section with a schedule (of `institution`, or of all), by institution and
    profile code, with its next `count` runs; an inactive section has none (it never runs)."""
    after = after or timezone.now()
    profiles = IntegrationProfile.objects.select_related("institution").order_by(
        "institution__code", "code"
    )
    if institution is not None:
        profiles = profiles.filter(institution=institution)
    sections = []
    for profile in profiles:
        for section in SECTIONS:
            schedule = getattr(profile, section.schedule)
            if schedule == Schedule.NOT_SCHEDULED:
                continue
            cron = getattr(profile, section.cron)
            sections.append(
                ScheduledSection(
                    profile=profile,
                    kind=section.kind,
                    label=mode_of(section.kind).label,
                    active=bool(getattr(profile, section.active)),
                    description=schedule_description(schedule=schedule, cron=cron),
                    next_runs=section_next_runs(
                        profile=profile, kind=section.kind, after=after, count=count
                    ),
                )
            )
    return sections


def _grace() -> timedelta:
    return timedelta(minutes=settings.PATRONSYNC_SCHEDULE_GRACE_MINUTES)


# The slots this process said it dropped, by (profile, kind): each is said once per process.
_dropped_said: dict[tuple[int, str], datetime] = {}


def schedules_fire(*, now: datetime | None = None) -> list[Job]:
    """Create a pending job (trigger `schedule`) for each active, scheduled section whose
    latest slot at or before `now` is due and has not fired; return the jobs created.

    Idempotent: calling it again, from this process or another, for the same `now` creates
    nothing more. `now` is injected by the tests; it defaults to the current time.
    """
    now = now or timezone.now()
    grace = _grace()
    scheduled = Q()
    for section in SECTIONS:
        scheduled |= Q(**{section.active: True}) & ~Q(**{section.schedule: Schedule.NOT_SCHEDULED})
    profiles = IntegrationProfile.objects.filter(scheduled).select_related("institution")
    jobs = []
    for profile in profiles.order_by("pk"):
        for section in SECTIONS:
            job = _section_fire(profile=profile, section=section, now=now, grace=grace)
            if job is not None:
                jobs.append(job)
    return jobs


def _section_fire(
    *, profile: IntegrationProfile, section: Section, now: datetime, grace: timedelta
) -> Job | None:
    """Fire the due slot of one section, if it has one; the job created, or None."""
    schedule = getattr(profile, section.schedule)
    if not getattr(profile, section.active) or schedule == Schedule.NOT_SCHEDULED:
        return None
    try:
        slot = schedule_last_run(
            schedule=schedule,
            cron=getattr(profile, section.cron),
            time_zone=profile.institution.time_zone,
            at=now,
        )
    except ScheduleError as exc:
        # Saved around the profile's check (the admin, the ORM): the other sections still run.
        logger.error(
            "profile %s: its %s schedule cannot run: %s",
            profile.code,
            mode_of(section.kind).label,
            exc.message,
        )
        return None
    if slot is None:
        return None
    changed = profile.schedule_changed_at
    if changed is not None and slot < changed:
        return None
    slot = slot.astimezone(UTC)
    fired = (
        Job.objects.filter(profile=profile, kind=section.kind, scheduled_for__isnull=False)
        .order_by("-scheduled_for")
        .values_list("scheduled_for", flat=True)
        .first()
    )
    if fired is not None and fired >= slot:
        return None
    if _skip_recorded(profile=profile, kind=section.kind, slot=slot):
        return None
    if slot < now - grace:
        _drop_say(profile=profile, kind=section.kind, slot=slot, grace=grace)
        return None
    try:
        job = job_create(
            profile=profile, kind=section.kind, trigger=JobTrigger.SCHEDULE, scheduled_for=slot
        )
    except SectionNotActive:
        return None
    except JobAlreadyRunning:
        if Job.objects.filter(profile=profile, kind=section.kind, scheduled_for=slot).exists():
            return None  # another scheduler fired this slot a moment ago
        _skip_record(profile=profile, kind=section.kind, slot=slot)
        return None
    logger.info(
        "job %s: %s of profile %s fired for its slot %s",
        job.id,
        mode_of(section.kind).label,
        profile.code,
        _local(slot, profile),
        extra={"job_id": job.id},
    )
    return job


def _drop_say(*, profile: IntegrationProfile, kind: str, slot: datetime, grace: timedelta) -> None:
    """Log, once per process, a slot that did not fire and now never will: no scheduler
    called within the grace period after it (the worker was stopped, or busy with one job
    for longer than the grace period)."""
    key = (profile.pk, kind)
    if _dropped_said.get(key) == slot:
        return
    _dropped_said[key] = slot
    logger.warning(
        "profile %s: its scheduled %s of %s did not run: no scheduler fired it within the "
        "grace period (%d minutes, PATRONSYNC_SCHEDULE_GRACE_MINUTES); the next slot runs",
        profile.code,
        mode_of(kind).label,
        _local(slot, profile),
        int(grace.total_seconds() // 60),
    )


def _local(slot: datetime, profile: IntegrationProfile) -> str:
    zone = profile.institution.time_zone
    return f"{slot.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M} ({zone})"


def _skip_marker(*, kind: str, slot: datetime) -> str:
    """The part of a skip's log line that names its slot, so that it is written once."""
    return f"[scheduled {kind} {slot.astimezone(UTC):%Y-%m-%dT%H:%MZ}]"


def _skip_recorded(*, profile: IntegrationProfile, kind: str, slot: datetime) -> bool:
    """Whether the slot was skipped already: a job active at the slot carries its line."""
    candidates = Job.objects.filter(profile=profile).filter(
        # A job held by the mass-change guard blocks the profile until decided.
        Q(finished_at__isnull=True) | Q(finished_at__gte=slot) | Q(status=JobStatus.HELD)
    )
    return candidates.filter(log__contains=_skip_marker(kind=kind, slot=slot)).exists()


def _skip_record(*, profile: IntegrationProfile, kind: str, slot: datetime) -> None:
    """Say in the log of the profile's active job that it made this slot skip, once: the
    conditional update leaves a log that has the line already as it is."""
    active = Job.objects.filter(
        profile=profile, status__in=(*ACTIVE_STATUSES, JobStatus.HELD)
    ).first()
    if active is None:
        return  # it ended in the meantime; the next call fires the slot
    marker = _skip_marker(kind=kind, slot=slot)
    label = mode_of(kind).label
    line = log_line(
        f"Scheduled {label} of {_local(slot, profile)} skipped: this job was still "
        f"{active.status} {marker}"
    )
    written = (
        Job.objects.filter(pk=active.pk)
        .exclude(log__contains=marker)
        .update(log=log_appended(line))
    )
    if written:
        logger.info(
            "job %s: scheduled %s of profile %s at %s skipped, this job is %s",
            active.id,
            label,
            profile.code,
            _local(slot, profile),
            active.status,
            extra={"job_id": active.id},
        )
