"""Purge User Records: a job that removes (or anonymises) a profile's users past their purge date.

As Alma's "Purge User Records" job (SPEC §3.6), for the users one profile loaded (external ID =
the profile's code): those whose purge date is more than the profile's `days_after_purge_date`
days before the day the job was created, narrowed by its filters (record types, user groups,
expiry before), less the users staff exempted (`Patron.exempt`). Its settings are the profile's
`purge` (`profiles.purge`), stored on the job when it is created, with that day.

It runs like a Synchronize, in two passes:

1. The plan: the users it would purge, each a `would_purge` record (primary ID, user id, why).
   A dry run stops there. A live run started `from_dry_run` copies that dry run's records
   instead of choosing again, and runs with that dry run's settings and day: it purges exactly
   what the dry run listed, never a user the dry run did not list.
2. The mass-change guard: a purge counts as removals, held above the guard's leavers
   thresholds (by default 100 users or 1 % of the profile's users, whichever is larger). A held
   purge keeps its plan; once approved, it applies that plan without checking again.
3. The apply pass: the plan's records a batch at a time, each batch re-checked in one query
   against the users as they are now (a user exempted, deleted or given a new purge date since
   the plan is left alone, its record `unchanged` with the reason), the rest purged through the
   user store (`patrons.purge`), their records turned `purged`, in the batch's transaction. A
   resumed job goes on with the records still `would_purge`. The report says whether the plan
   was applied exactly or re-checked (`Job.guard["applied"]`).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from patronsync.core.bulk import insert_rows
from patronsync.core.exceptions import ConfigurationError, PatronsyncError
from patronsync.core.models import Institution
from patronsync.loader.pipeline import JobCancelled
from patronsync.patrons.models import Patron
from patronsync.patrons.planning import Actor
from patronsync.patrons.purge import patrons_anonymise, patrons_remove
from patronsync.profiles.guard import GuardSettingError, guard_settings
from patronsync.profiles.models import IntegrationProfile
from patronsync.profiles.purge import KEEP_ANONYMISE, PurgeSettings, purge_settings

from .choices import JobKind, JobStatus, JobTrigger, RecordOutcome
from .exceptions import JobTakenOver
from .models import Job, JobRecord

if TYPE_CHECKING:
    from .runner import JobRunner

BATCH_SIZE = 500
PLAN_COLUMNS = (
    "job_id", "file", "entry", "position", "match_value", "primary_id", "patron_id", "outcome",
    "reason_code", "reason", "changes",
)  # fmt: skip
# Why a listed user was left alone by the apply pass (its record's reason code).
GONE = "USER_GONE"
EXEMPT = "USER_EXEMPT"
NOT_DUE = "NO_LONGER_DUE"
LEFT_ALONE = {
    GONE: "The user no longer exists (deleted, or no longer this profile's) since the plan",
    EXEMPT: "Staff exempted the user from purge since the plan",
    NOT_DUE: "The user no longer meets the purge settings (its purge date, expiry date, "
    "record type or user group changed since the plan)",
}
RECHECKED_EXAMPLES = 20

logger = logging.getLogger(__name__)


class PurgeNotStartable(PatronsyncError):
    """A purge cannot start as asked (a dry run to apply that is not one of the profile's)."""


def purge_candidates(
    *, institution: Institution, profile_code: str, settings: PurgeSettings, today: dt.date
) -> QuerySet[Patron]:
    """The profile's users a purge with `settings` on `today` would purge: not exempt, with a
    purge date more than `days_after_purge_date` days before `today`, and within the filters."""
    users = Patron.objects.filter(
        institution=institution,
        external_id=profile_code,
        exempt=False,
        purge_date__isnull=False,
        purge_date__lt=settings.purge_date_before(today),
    )
    if settings.record_types:
        users = users.filter(record_type__in=settings.record_types)
    if settings.user_groups:
        users = users.filter(user_group__in=settings.user_groups)
    if settings.expiry_before is not None:
        users = users.filter(expiry_date__lt=settings.expiry_before)
    return users


def purge_dry_run_check(*, profile: IntegrationProfile, dry_run: Job) -> None:
    """Raise PurgeNotStartable unless `dry_run` is a completed purge dry run of `profile`."""
    if dry_run.profile_id != profile.pk or dry_run.kind != JobKind.PURGE or not dry_run.dry_run:
        raise PurgeNotStartable(
            f"Job {dry_run.pk} (Process ID {dry_run.process_id}) is not a purge dry run of "
            f"profile {profile.code}"
        )
    if dry_run.status != JobStatus.COMPLETED:
        raise PurgeNotStartable(
            f"Job {dry_run.pk} (Process ID {dry_run.process_id}) is "
            f"{dry_run.get_status_display().lower()}; only a completed dry run can be applied"
        )


def profile_purge_start(
    *,
    profile: IntegrationProfile,
    dry_run: bool = False,
    from_dry_run: Job | None = None,
    trigger: str = JobTrigger.MANUAL,
) -> Job:
    """Create a Purge User Records job of `profile` for a worker (or the caller) to run.

    `from_dry_run` (a completed purge dry run of the profile) makes a live job that purges
    exactly the users that dry run listed, with its settings and day. Raises PurgeNotStartable
    for another job as `from_dry_run`, ConfigurationError for settings that cannot run, and
    JobAlreadyRunning (JobHeld) like `job_create`.
    """
    from .services import job_create  # the services build on the runner, which runs purges

    if from_dry_run is not None:
        if dry_run:
            raise PurgeNotStartable("A dry run cannot be made from another dry run")
        purge_dry_run_check(profile=profile, dry_run=from_dry_run)
    with transaction.atomic():
        job = job_create(profile=profile, kind=JobKind.PURGE, dry_run=dry_run, trigger=trigger)
        if from_dry_run is not None and job.status == JobStatus.PENDING:
            parameters = {
                **job.parameters,
                "purge": from_dry_run.parameters["purge"],
                "today": from_dry_run.parameters["today"],
                "from_dry_run": from_dry_run.pk,
                "from_dry_run_process_id": from_dry_run.process_id,
            }
            Job.objects.filter(pk=job.pk).update(parameters=parameters)
            job.parameters = parameters
    return job


def _limit(count: int, percent: float, of: int) -> int:
    return max(count, math.floor(of * percent / 100))


def purge_guard_findings(
    *, purges: int, profile_users: int, settings: dict[str, Any]
) -> list[dict[str, Any]]:
    """The threshold a purge of `purges` users crosses (the guard's leavers thresholds: a purge
    removes users), as the guard words its findings; [] when none or the guard is off."""
    if not settings["enabled"]:
        return []
    limit = _limit(settings["max_leavers"], settings["max_leavers_percent"], profile_users)
    if purges <= limit:
        return []
    return [
        {
            "threshold": "purges",
            "count": purges,
            "limit": limit,
            "message": (
                f"The purge would remove {purges:,} user{'s' if purges != 1 else ''}: more than "
                f"{limit:,} (the larger of {settings['max_leavers']:,} users and "
                f"{settings['max_leavers_percent']:g} % of the profile's {profile_users:,} users)"
            ),
        }
    ]


class PurgeRun:
    """One run of a purge job, on its runner's claim (see the module's docstring)."""

    def __init__(self, runner: JobRunner) -> None:
        self.runner = runner
        self.job = runner.job
        parameters = self.job.parameters
        self.profile_code = str(parameters["profile"])
        self.settings = purge_settings(parameters.get("purge") or {})
        self.today = dt.date.fromisoformat(str(parameters["today"]))
        self.source_id = parameters.get("from_dry_run")
        self.actor = Actor.job(self.job.id, f"job {self.job.id} (Purge User Records)")

    def candidates(self) -> QuerySet[Patron]:
        return purge_candidates(
            institution=self.job.institution,
            profile_code=self.profile_code,
            settings=self.settings,
            today=self.today,
        )

    def run(self) -> str | None:
        """Plan, check, apply; the status to end with, or None when held for approval."""
        state = dict(self.job.guard or {})
        try:
            settings = guard_settings(self.job.parameters.get("guard") or {})
        except GuardSettingError as exc:
            raise ConfigurationError(f"The profile's guard setting {exc}") from None
        if state.get("pass") != "apply":
            if not state.get("approved"):
                planned = self.plan()
                crossed = self.check(planned, settings)
                if self.job.dry_run:
                    for finding in crossed:
                        self.runner.logger.warning(
                            "A live run would be held: %s", finding["message"]
                        )
                    return JobStatus.COMPLETED
                if crossed:
                    self.hold(crossed)
                    return None
            self.start_apply()
        left_alone = self.apply()
        return JobStatus.COMPLETED_WITH_ERRORS if left_alone else JobStatus.COMPLETED

    # The plan.

    def plan(self) -> int:
        """Write the plan's `would_purge` records (again, for a plan pass resumed); how many."""
        runner = self.runner
        runner._hold(
            guard={"pass": "plan"}, checkpoint={}, users_expected=None,
            total_records_processed=0, created=0, updated=0, unchanged=0, rejected=0,
        )  # fmt: skip
        JobRecord.objects.filter(job=self.job).delete()
        if self.source_id is not None:
            rows = self._listed_by_dry_run()
            runner.logger.info(
                "Purging exactly the users dry run job %s listed (Process ID %s), as of %s",
                self.source_id,
                self.job.parameters.get("from_dry_run_process_id", ""),
                self.today,
            )
        else:
            rows = self._chosen()
            runner.logger.info(
                "Choosing the users of profile %s whose purge date is before %s (%s)",
                self.profile_code,
                self.settings.purge_date_before(self.today),
                "; ".join(f"{label}: {value}" for label, value in self.settings.describe()),
            )
        count = 0
        batch: list[tuple[Any, ...]] = []
        for row in rows:
            count += 1
            batch.append((self.job.id, "", "", count, *row))
            if len(batch) >= BATCH_SIZE:
                self._plan_batch(batch)
                batch = []
        self._plan_batch(batch)
        exempt = (
            Patron.objects.filter(
                institution=self.job.institution,
                external_id=self.profile_code,
                exempt=True,
                purge_date__lt=self.settings.purge_date_before(self.today),
            ).count()
            if self.source_id is None
            else 0
        )
        if exempt:
            runner.logger.info("%s exempt users past their purge date left alone", exempt)
        runner.logger.info(
            "Plan: %s users to %s",
            count,
            "anonymise" if self.settings.keep == KEEP_ANONYMISE else "remove",
        )
        return count

    def _why(self, purge_date: dt.date | None) -> str:
        if purge_date is None:  # not chosen without one (`purge_candidates`)
            return ""
        days = (self.today - purge_date).days
        what = "anonymised" if self.settings.keep == KEEP_ANONYMISE else "removed"
        return f"Purge date {purge_date.isoformat()}, {days:,} days before {self.today}: {what}"

    def _chosen(self) -> Any:
        users = self.candidates().order_by("pk").values_list("pk", "primary_id", "purge_date")
        for pk, primary_id, purge_date in users.iterator(chunk_size=2000):
            yield (primary_id[:255], primary_id[:255], pk, RecordOutcome.WOULD_PURGE.value, "",
                   self._why(purge_date), {})  # fmt: skip

    def _listed_by_dry_run(self) -> Any:
        source = Job.objects.filter(pk=self.source_id).first()
        if source is None:
            raise ConfigurationError(
                f"Job {self.source_id}, the dry run this purge applies, no longer exists"
            )
        records = (
            JobRecord.objects.filter(job=source, outcome=RecordOutcome.WOULD_PURGE)
            .order_by("id")
            .values_list("match_value", "primary_id", "patron_id", "reason")
        )
        for match_value, primary_id, patron_id, reason in records.iterator(chunk_size=2000):
            yield (match_value, primary_id, patron_id, RecordOutcome.WOULD_PURGE.value, "",
                   reason, {})  # fmt: skip

    def _plan_batch(self, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        with transaction.atomic():
            self.runner._hold(total_records_processed=F("total_records_processed") + len(rows))
            insert_rows(JobRecord, PLAN_COLUMNS, rows)

    def check(self, planned: int, settings: dict[str, Any]) -> list[dict[str, Any]]:
        """The guard's findings on the plan, written on the job (`Job.guard`)."""
        profile_users = Patron.objects.filter(
            institution=self.job.institution, external_id=self.profile_code
        ).count()
        crossed = purge_guard_findings(
            purges=planned, profile_users=profile_users, settings=settings
        )
        guard = {
            "pass": "dry run" if self.job.dry_run else "planned",
            "settings": settings,
            "plan": {
                "counts": {"purges": planned},
                "profile_users": profile_users,
                "keep": self.settings.keep,
                "planned_at": timezone.now().isoformat(),
            },
            "crossed": crossed,
        }
        self.runner._hold(guard=guard)
        self.job.guard = guard
        return crossed

    def hold(self, crossed: list[dict[str, Any]]) -> None:
        logger_ = self.runner.logger
        for finding in crossed:
            logger_.warning("Held for approval: %s", finding["message"])
        logger_.warning(
            "Nothing was purged. Approve the plan (patronsync job approve %s) to apply it, or "
            "reject it (patronsync job reject %s); until then later runs of profile %s are "
            "skipped",
            self.job.id,
            self.job.id,
            self.profile_code,
        )
        with transaction.atomic():
            self.runner._hold(status=JobStatus.HELD, finished_at=timezone.now(), lease_until=None)

    # The apply pass.

    def start_apply(self) -> None:
        state = {**(self.job.guard or {}), "pass": "apply"}
        if state.get("approved"):
            self.runner.logger.info(
                "Applying the plan approved by %s (the thresholds are not checked again)",
                self.job.decided_by,
            )
        planned = JobRecord.objects.filter(job=self.job, outcome=RecordOutcome.WOULD_PURGE)
        self.runner._hold(
            guard=state, users_expected=planned.count(), total_records_processed=0, unchanged=0
        )
        self.job.guard = state

    def apply(self) -> int:
        """Purge the plan's users a batch at a time; returns how many were left alone."""
        runner = self.runner
        state = dict(self.job.guard or {})
        applied = dict(state.get("applied") or {})
        left_alone = int(applied.get("rechecked", 0))
        examples: list[dict[str, Any]] = list(applied.get("examples", []))
        purged = int(applied.get("purged", 0))
        keep = self.settings.keep
        while True:
            with transaction.atomic():
                runner._hold()  # first: it stops a worker that lost the job
                records = list(
                    JobRecord.objects.filter(job=self.job, outcome=RecordOutcome.WOULD_PURGE)
                    .order_by("id")
                    .values_list("id", "patron_id", "primary_id")[:BATCH_SIZE]
                )
                if not records:
                    break
                ids = [patron_id for _, patron_id, _ in records if patron_id is not None]
                due = set(self.candidates().filter(pk__in=ids).values_list("pk", flat=True))
                causes = self._left_alone_causes(set(ids) - due)
                if keep == KEEP_ANONYMISE:
                    patrons_anonymise(patron_ids=sorted(due), actor=self.actor)
                else:
                    patrons_remove(patron_ids=sorted(due), actor=self.actor)
                done = [pk for pk, patron_id, _ in records if patron_id in due]
                JobRecord.objects.filter(pk__in=done).update(
                    outcome=RecordOutcome.PURGED,
                    reason_code="ANONYMISED" if keep == KEEP_ANONYMISE else "REMOVED",
                    patron_id=None,  # the row names no one now (anonymised) or is gone
                )
                by_cause: dict[str, list[int]] = {}
                for pk, patron_id, primary_id in records:
                    if patron_id in due:
                        continue
                    cause = causes.get(patron_id, GONE) if patron_id is not None else GONE
                    by_cause.setdefault(cause, []).append(pk)
                    if len(examples) < RECHECKED_EXAMPLES:
                        examples.append(
                            {"user": primary_id, "planned": "would_purge", "applied": cause}
                        )
                for cause, pks in by_cause.items():
                    JobRecord.objects.filter(pk__in=pks).update(
                        outcome=RecordOutcome.UNCHANGED, reason_code=cause, reason=LEFT_ALONE[cause]
                    )
                not_purged = len(records) - len(done)
                left_alone += not_purged
                purged += len(done)
                # Other purge jobs' records of these users name them no more either.
                JobRecord.objects.filter(
                    job__profile_id=self.job.profile_id, job__kind=JobKind.PURGE, patron_id__in=due
                ).update(patron_id=None)
                runner._hold(
                    total_records_processed=F("total_records_processed") + len(records),
                    unchanged=F("unchanged") + not_purged,
                    guard={
                        **state,
                        "applied": {
                            "purged": purged,
                            "rechecked": left_alone,
                            "examples": examples,
                        },
                    },
                )
            if runner.progress is not None:
                runner.progress(len(records))
            if requested_by := runner.stop_requested():
                raise JobCancelled(f"Cancelled by {requested_by} after {purged:,} users purged")
        outcome = {
            "purged": purged,
            "rechecked": left_alone,
            "examples": examples,
            "as": "re-checked" if left_alone else "exact",
        }
        runner._hold(guard={**state, "applied": outcome})
        self.job.guard = {**state, "applied": outcome}
        verb = "anonymised" if keep == KEEP_ANONYMISE else "removed"
        if left_alone:
            named = ", ".join(f"{e['user']} ({e['applied']})" for e in examples)
            runner.logger.warning(
                "Applied the plan re-checked against changes made since: %s users %s, %s left "
                "alone as they no longer qualify: %s",
                purged,
                verb,
                left_alone,
                named,
            )
        else:
            runner.logger.info("Applied exactly the plan: %s users %s", purged, verb)
        return left_alone

    def _left_alone_causes(self, ids: set[int]) -> dict[int, str]:
        """Why each of the planned users `ids` is not due any more (missing ones: GONE)."""
        if not ids:
            return {}
        rows = Patron.objects.filter(
            Q(pk__in=ids), institution=self.job.institution, external_id=self.profile_code
        ).values_list("pk", "exempt")
        return {pk: EXEMPT if exempt else NOT_DUE for pk, exempt in rows}


def purge_run(*, runner: JobRunner) -> None:
    """Run the runner's claimed purge job to its end (the runner's `_run` for a purge)."""
    try:
        status = PurgeRun(runner).run()
    except JobTakenOver as exc:
        runner.logger.warning("Stopped: %s", exc)
        return
    except JobCancelled as exc:
        runner.logger.info("%s", exc)
        runner._end(JobStatus.CANCELLED)
        return
    except PatronsyncError as exc:
        runner.logger.warning("Failed: %s", exc)
        runner._end(JobStatus.FAILED)
        return
    except Exception:
        runner.logger.error("Errored:", exc_info=True)
        runner._end(JobStatus.ERRORED)
        return
    if status is None:
        return  # held for approval
    if runner._end(status):
        runner.logger.info("Finished: %s", JobStatus(status).label)


def job_purge_summary(*, job: Job) -> dict[str, Any]:
    """A purge job's part of its report: its settings, the day it counted from, the dry run it
    applied, and its users by outcome (one grouped query)."""
    counts = dict(
        JobRecord.objects.filter(job=job)
        .order_by()
        .values_list("outcome")
        .annotate(n=Count("id"))
        .values_list("outcome", "n")
    )
    applied = (job.guard or {}).get("applied") or {}
    return {
        "settings": job.parameters.get("purge") or {},
        "today": job.parameters.get("today"),
        "from_dry_run": job.parameters.get("from_dry_run"),
        "would_purge": counts.get(RecordOutcome.WOULD_PURGE, 0),
        "purged": counts.get(RecordOutcome.PURGED, 0),
        "left_alone": counts.get(RecordOutcome.UNCHANGED, 0),
        "applied_as": applied.get("as", ""),
    }
