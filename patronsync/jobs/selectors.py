"""Reads on jobs: the report as Alma shows it ("Patron Import Results"), and its records."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from .models import Job, JobRecord

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
