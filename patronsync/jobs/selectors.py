"""Reads on jobs: the report as Alma shows it ("Patron Import Results"), and its records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from .choices import ACTIVE_STATUSES, JobStatus
from .models import Job, JobRecord
from .scheduler import ScheduledSection, scheduled_sections

RECORD_CSV_FIELDS = (
    "file",
    "entry",
    "line",
    "position",
    "match_value",
    "primary_id",
    "outcome",
    "reason_code",
    "reason",
)


def job_records(*, job: Job, outcome: str | None = None) -> QuerySet[JobRecord]:
    records = JobRecord.objects.filter(job=job)
    return records.filter(outcome=outcome) if outcome else records


def job_report(*, job: Job) -> dict[str, Any]:
    """The job report: status, title, Process ID, times, the summary counters (which always add
    up: users processed = created + updated + unchanged + rejected), parameters, users by file,
    the job's log (which says, for one, that the input folder held no new file) and the rejected
    users with their reasons."""
    rejected = job_records(job=job, outcome="rejected").values(
        "file", "entry", "line", "position", "match_value", "primary_id", "reason_code", "reason"
    )
    return {
        "title": job.title,
        "report": "Patron Import Results",
        "status": job.status,
        "status_label": job.get_status_display(),
        "process_id": job.process_id,
        "job_id": job.id,
        "profile": job.profile.code,
        "kind": job.kind,
        "dry_run": job.dry_run,
        "started": job.started_at.isoformat() if job.started_at else None,
        "finished": job.finished_at.isoformat() if job.finished_at else None,
        "total_run_time_seconds": round(job.run_time, 3) if job.run_time is not None else None,
        "total_records_processed": job.total_records_processed,
        "total_users_processed": job.total_users_processed,
        "rejected": job.rejected,
        "updated": job.updated,
        "created": job.created,
        "unchanged": job.unchanged,
        "parameters": job.parameters,
        "files": job.files,
        "log": job.log.splitlines(),
        "rejected_users": list(rejected[:1000]),
    }


def job_list_filter(
    *,
    institutions: QuerySet[Any],
    profile: str = "",
    kind: str = "",
    status: str = "",
) -> QuerySet[Job]:
    """The jobs of `institutions`, newest first, optionally of one profile code, kind or status."""
    jobs = Job.objects.filter(institution__in=institutions).select_related("profile", "institution")
    if profile:
        jobs = jobs.filter(profile__code=profile)
    if kind:
        jobs = jobs.filter(kind=kind)
    if status:
        jobs = jobs.filter(status=status)
    return jobs


def job_records_filter(
    *,
    job: Job,
    outcome: str = "",
    reason_code: str = "",
    primary_id: str = "",
    file: str = "",
) -> QuerySet[JobRecord]:
    """A job's records in feed order, filtered by exact outcome, reason code, primary ID or file."""
    records = job_records(job=job, outcome=outcome or None)
    if reason_code:
        records = records.filter(reason_code=reason_code)
    if primary_id:
        records = records.filter(primary_id=primary_id)
    if file:
        records = records.filter(file=file)
    return records


# Monitor Jobs: what runs (with its progress), what is scheduled next, and what ran.

MONITOR_HISTORY = 20


def job_progress(*, job: Job, now: datetime | None = None) -> dict[str, Any]:
    """A job's progress: users done, of how many (`users_expected`, counted as its files are
    fetched; None before), the rate in users per second since it started, and the seconds
    left at that rate (None when the total or the rate is not known, or the job has ended)."""
    done = job.total_records_processed
    total = job.users_expected
    rate = None
    if job.started_at is not None:
        end = job.finished_at or now or timezone.now()
        elapsed = (end - job.started_at).total_seconds()
        if elapsed > 0:
            rate = round(done / elapsed, 1)
    eta = None
    if job.status == JobStatus.RUNNING and total is not None and rate:
        eta = round(max(total - done, 0) / rate, 1)
    return {"done": done, "total": total, "rate_per_second": rate, "eta_seconds": eta}


@dataclass(frozen=True)
class JobsMonitor:
    """Monitor Jobs: the pending and running jobs, the next scheduled runs, and the history."""

    active: list[Job]
    scheduled: list[ScheduledSection]  # soonest first
    history: list[Job]


def jobs_monitor(
    *, institutions: QuerySet[Any], history: int = MONITOR_HISTORY, now: datetime | None = None
) -> JobsMonitor:
    """What Monitor Jobs shows for `institutions`: the jobs pending or running (oldest first),
    each scheduled profile section with its next run (soonest first; an inactive section has
    none and comes last), and the `history` latest jobs that ended."""
    now = now or timezone.now()
    jobs = Job.objects.filter(institution__in=institutions).select_related("profile", "institution")
    active = list(jobs.filter(status__in=ACTIVE_STATUSES).order_by("created_at", "id"))
    ended = jobs.exclude(status__in=ACTIVE_STATUSES).order_by("-finished_at", "-id")
    ids = set(institutions.values_list("pk", flat=True))
    sections = [s for s in scheduled_sections(after=now) if s.profile.institution_id in ids]
    sections.sort(key=lambda s: (not s.next_runs, s.next_runs[0] if s.next_runs else now))
    return JobsMonitor(active=active, scheduled=sections, history=list(ended[:history]))
