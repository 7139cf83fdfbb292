"""Reads on jobs: the report as Alma shows it ("Patron Import Results"), and its records."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from patronsync.core.choices import CodeTableName
from patronsync.core.models import CodeTableEntry, Institution
from patronsync.core.selectors import CodeTables, code_tables_for_institution
from patronsync.patrons.fields import CORE_FIELDS

from .choices import ACTIVE_STATUSES, JobKind, JobStatus
from .models import Job, JobRecord
from .purge import job_purge_summary
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


def job_guard_shown(*, job: Job) -> dict[str, Any]:
    """The job's mass-change guard as reports and the API show it: without what an apply pass
    of the plan alone needs (`plan.apply_from`, `jobs.planned`), which is the engine's own."""
    guard = dict(job.guard or {})
    if "apply_from" in (guard.get("plan") or {}):
        guard["plan"] = {k: v for k, v in guard["plan"].items() if k != "apply_from"}
    return guard


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
        # The mass-change guard: the plan's counts, the thresholds crossed, the decision.
        "guard": job_guard_shown(job=job),
        "decision": job.decision,
        "decided_by": job.decided_by,
        "decided_at": job.decided_at.isoformat() if job.decided_at else None,
        # Purge User Records: its settings and users by outcome (`jobs.purge`).
        **({"purge": job_purge_summary(job=job)} if job.kind == JobKind.PURGE else {}),
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


# The job pages: Monitor Jobs' tabs, and the report with its records, filters and trend.

ENDED_STATUSES = tuple(s for s in JobStatus if s not in ACTIVE_STATUSES)
TREND_JOBS = 30


def jobs_active(*, institution: Institution) -> QuerySet[Job]:
    """The institution's pending and running jobs, oldest first (Monitor Jobs' Running tab)."""
    return (
        Job.objects.filter(institution=institution, status__in=ACTIVE_STATUSES)
        .select_related("profile", "institution")
        .order_by("created_at", "id")
    )


def jobs_scheduled(
    *, institution: Institution, now: datetime | None = None
) -> list[ScheduledSection]:
    """The institution's scheduled profile sections, soonest next run first; inactive sections
    (which never run) come last, by profile code."""
    now = now or timezone.now()
    sections = scheduled_sections(institution=institution, after=now)
    sections.sort(key=lambda s: (not s.next_runs, s.next_runs[0] if s.next_runs else now))
    return sections


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


def job_history_filter(
    *,
    institution: Institution,
    profile: str = "",
    kind: str = "",
    status: str = "",
    trigger: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[Job]:
    """The institution's jobs that ended, newest first, optionally of one profile code, kind,
    status or trigger, and started (a job cancelled before it started: created) from
    `date_from` to `date_to`, both whole days in the institution's time zone."""
    jobs = (
        Job.objects.filter(institution=institution)
        .exclude(status__in=ACTIVE_STATUSES)
        .select_related("profile", "institution")
        .annotate(began=Coalesce("started_at", "created_at"))
        .order_by("-began", "-id")
    )
    if profile:
        jobs = jobs.filter(profile__code=profile)
    if kind:
        jobs = jobs.filter(kind=kind)
    if status:
        jobs = jobs.filter(status=status)
    if trigger:
        jobs = jobs.filter(trigger=trigger)
    zone = ZoneInfo(institution.time_zone or "UTC")
    if date_from:
        jobs = jobs.filter(began__gte=_day_start(date_from, zone))
    if date_to:
        jobs = jobs.filter(began__lt=_day_start(date_to + timedelta(days=1), zone))
    return jobs


def job_records_search(
    *, job: Job, outcome: str = "", file: str = "", reason_code: str = "", text: str = ""
) -> QuerySet[JobRecord]:
    """A job's records in feed order, filtered as `job_records_filter` does, and by `text`:
    a part of the match value, primary ID or reason, in any case."""
    records = job_records_filter(job=job, outcome=outcome, reason_code=reason_code, file=file)
    text = text.strip()
    if text:
        match = Q(match_value__icontains=text) | Q(primary_id__icontains=text)
        records = records.filter(match | Q(reason__icontains=text))
    return records


@dataclass(frozen=True)
class FileCounts:
    """One file of a job, with its users and its listed records by outcome."""

    name: str
    users: int | None  # as the file's report entry counted them (None: not read)
    outcomes: dict[str, int]

    @property
    def listed(self) -> int:
        return sum(self.outcomes.values())

    @property
    def unchanged(self) -> int | None:
        """Users of the file not listed: the unchanged ones (counted, as in Alma, not listed)."""
        return None if self.users is None else max(self.users - self.listed, 0)


@dataclass(frozen=True)
class RecordCounts:
    """A job's listed records counted per outcome, per file and outcome, and per reason code."""

    outcomes: dict[str, int]
    files: list[FileCounts]
    reason_codes: dict[str, int]


def job_record_counts(*, job: Job) -> RecordCounts:
    """The counters of a job's records, in two grouped queries: per file and outcome (files in
    the order the job took them, then any file only its records name), and per reason code."""
    by_file: dict[str, dict[str, int]] = {}
    outcomes: dict[str, int] = {}
    rows = job_records(job=job).order_by().values_list("file", "outcome").annotate(n=Count("id"))
    for name, outcome, n in rows:
        by_file.setdefault(name, {})[outcome] = n
        outcomes[outcome] = outcomes.get(outcome, 0) + n
    files = []
    for entry in job.files:
        name = entry.get("name", "")
        users = entry.get("users")
        files.append(FileCounts(name=name, users=users, outcomes=by_file.pop(name, {})))
    files += [FileCounts(name=n, users=None, outcomes=o) for n, o in sorted(by_file.items())]
    reasons = (
        job_records(job=job)
        .exclude(reason_code="")
        .order_by()
        .values_list("reason_code")
        .annotate(n=Count("id"))
    )
    return RecordCounts(
        outcomes=outcomes, files=files, reason_codes=dict(sorted((c, n) for c, n in reasons))
    )


# Keys inside segment items (identifiers, emails, addresses, ...) whose values are codes.
SEGMENT_CODE_TABLES = {
    "id_type": CodeTableName.IDENTIFIER_TYPES,
    "email_type": CodeTableName.EMAIL_TYPES,
    "address_type": CodeTableName.ADDRESS_TYPES,
    "phone_type": CodeTableName.PHONE_TYPES,
    "note_type": CodeTableName.NOTE_TYPES,
    "block_type": CodeTableName.BLOCK_TYPES,
    "block_description": CodeTableName.BLOCK_DESCRIPTIONS,
    "statistic_category": CodeTableName.STATISTIC_CATEGORIES,
    "country": CodeTableName.COUNTRIES,
}


@dataclass(frozen=True)
class FieldChange:
    """One changed field of a user, before and after, as words (codes with descriptions)."""

    field: str
    label: str
    before: list[str]  # one line per value (a segment list has one per item)
    after: list[str]


def _coded(code: Any, table: str | None, tables: CodeTables) -> str:
    text = "" if code is None else str(code)
    description = tables.description(table, text) if table and text else None
    return f"{text} ({description})" if description and description != text else text


def _item_words(item: Any, tables: CodeTables) -> str:
    """One segment item as 'key: value; ...', its codes with their descriptions."""
    if not isinstance(item, dict):
        return _value_words(item, None, tables)
    parts = []
    for key, value in item.items():
        if value in (None, "", [], {}):
            continue
        parts.append(f"{key}: {_value_words(value, SEGMENT_CODE_TABLES.get(key), tables)}")
    return "; ".join(parts)


def _value_words(value: Any, table: str | None, tables: CodeTables) -> str:
    if isinstance(value, dict) and set(value) <= {"value", "desc"} and "value" in value:
        return _coded(value["value"], table, tables)  # Alma's {"value": CODE}
    if isinstance(value, list):
        return ", ".join(_value_words(v, table, tables) for v in value)
    if isinstance(value, dict):
        return _item_words(value, tables)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return _coded(value, table, tables)


def _lines(value: Any, table: str | None, tables: CodeTables) -> list[str]:
    if value in (None, "", []):
        return []
    if isinstance(value, list):
        return [_item_words(item, tables) for item in value]
    return [_value_words(value, table, tables)]


def record_changes_described(*, changes: dict[str, Any], tables: CodeTables) -> list[FieldChange]:
    """A record's field changes ({field: {"before": x, "after": y}}) as words, field by field:
    a code field's values with their descriptions from the institution's code tables (e.g.
    user group GRAD (Graduate student)), a segment list one line per item."""
    described = []
    for name, change in changes.items():
        if not isinstance(change, dict):
            continue
        spec = CORE_FIELDS.get(name)
        table = spec.table if spec is not None else None
        described.append(
            FieldChange(
                field=name,
                label=name.replace("_", " ").capitalize(),
                before=_lines(change.get("before"), table, tables),
                after=_lines(change.get("after"), table, tables),
            )
        )
    return described


def job_records_described(
    *, records: Iterable[JobRecord], institution: Institution
) -> list[tuple[JobRecord, list[FieldChange]]]:
    """Records (one page of them) each with its changes as words, the institution's code tables
    read once."""
    records = list(records)
    if not any(record.changes for record in records):
        return [(record, []) for record in records]
    tables = code_tables_for_institution(institution=institution)
    return [
        (record, record_changes_described(changes=record.changes or {}, tables=tables))
        for record in records
    ]


def job_profile_trend(*, job: Job, count: int = TREND_JOBS) -> list[Job]:
    """The latest `count` jobs of the job's profile that ended (this one among them once it
    has), oldest first: the report's chart of users created, updated, unchanged, rejected."""
    ended = (
        Job.objects.filter(profile_id=job.profile_id)
        .exclude(status__in=ACTIVE_STATUSES)
        .annotate(began=Coalesce("started_at", "created_at"))
        .order_by("-began", "-id")
    )
    return list(reversed(ended[:count]))


# How the user store words a code its code table lacks (`patrons.rules.check_code`): the code
# and the table, parsed back out of the rejected records' reasons. Anchored at both ends, so a
# code holding quotes or parentheses is read whole; a reason cut for length does not match
# (its code is too long for a code table anyway).
UNKNOWN_CODE_REASONS = {
    "USER_GROUP_NOT_LEGAL": re.compile(
        r"Given user group is not legal: '(?P<code>.*)' is not in code table (?P<table>\w+)",
        re.DOTALL,
    ),
    "UNKNOWN_CODE": re.compile(
        r"Given (?P<field>\S+) type \((?P<code>.*)\) is invalid: not in code table (?P<table>\w+)",
        re.DOTALL,
    ),
}


@dataclass(frozen=True)
class UnknownCode:
    """A code the job's feed used that a code table lacked, and how many users it rejected.

    `state` is where the code stands now: "missing" (no row), "disabled" (a row, not enabled)
    or "present" (enabled: a re-run takes it).
    """

    table: str
    code: str
    users: int
    state: str

    @property
    def table_label(self) -> str:
        return str(CodeTableName(self.table).label)


def job_unknown_codes(*, job: Job) -> list[UnknownCode]:
    """The codes the job's rejected users carried that their code tables lacked, each once
    with its table and the number of users it rejected (most first), and where each stands in
    the institution's code tables now."""
    reasons = (
        JobRecord.objects.filter(
            job=job, outcome="rejected", reason_code__in=list(UNKNOWN_CODE_REASONS)
        )
        .values_list("reason_code", "reason")
        .iterator()
    )
    counts: dict[tuple[str, str], int] = {}
    for reason_code, reason in reasons:
        match = UNKNOWN_CODE_REASONS[reason_code].fullmatch(reason)
        if match is None or match["table"] not in CodeTableName.values:
            continue
        key = (match["table"], match["code"])
        counts[key] = counts.get(key, 0) + 1
    if not counts:
        return []
    rows = CodeTableEntry.objects.filter(
        institution_id=job.institution_id,
        table__in={table for table, _ in counts},
        code__in={code for _, code in counts},
    ).values_list("table", "code", "enabled")
    enabled = {(table, code): on for table, code, on in rows}
    return [
        UnknownCode(
            table=table,
            code=code,
            users=users,
            state=(
                "missing"
                if (table, code) not in enabled
                else "present"
                if enabled[(table, code)]
                else "disabled"
            ),
        )
        for (table, code), users in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]
