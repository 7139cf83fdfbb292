"""A job's leavers step: after a clean complete Synchronize, the feed's missing users.

The runner calls `JobLeavers.start` before it takes the files and `JobLeavers.finish` once
they are all loaded. When the job's profile declares its feed a complete snapshot
(`leavers:` in its settings, stored on the job's parameters), `start` gives the run a bitmap of
the users its records match or create (`RunContext.seen`, one bit per user id, kept in the
checkpoint: users skipped at hash speed are matched too, so none is parsed for this); `finish`
then hands the bitmap to the user store's leavers rule (`patrons.leavers`), which expires,
deactivates and reactivates users, and records each step as one of the job's records (EXPIRED,
DEACTIVATED, REACTIVATED, or a dry run's WOULD_*), in one transaction with the job's counters.

Nothing happens on a run that is not a complete feed's: an Import, a Run again of rejected
users, a run that took no file, a run with file problems, a cancelled run, or one the guard
holds. A profile without the rule pays nothing: no bitmap is kept.

For the guard: `JobLeavers.plan()` counts what the step would do (no write), from the run's
bitmap, once the feed has been read; `finish` applies it.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from patronsync.core.bulk import insert_rows
from patronsync.core.models import Institution
from patronsync.loader.choices import JobKind
from patronsync.loader.context import RunContext
from patronsync.loader.state import TouchedUsers
from patronsync.patrons.leavers import (
    DEACTIVATE,
    EXPIRE,
    LeaverRule,
    LeaversPlan,
    LeaverStep,
    leaver_rule_from,
    leavers_apply,
    leavers_plan,
)
from patronsync.patrons.planning import Actor

from .choices import JobStatus, RecordOutcome
from .models import Job, JobRecord

if TYPE_CHECKING:
    from .runner import JobRunner

# The job record of each step, live and in a dry run.
OUTCOME_OF_STEP = {
    (EXPIRE, False): RecordOutcome.EXPIRED,
    (EXPIRE, True): RecordOutcome.WOULD_EXPIRE,
    (DEACTIVATE, False): RecordOutcome.DEACTIVATED,
    (DEACTIVATE, True): RecordOutcome.WOULD_DEACTIVATE,
    ("reactivate", False): RecordOutcome.REACTIVATED,
    ("reactivate", True): RecordOutcome.WOULD_REACTIVATE,
}
REASON_CODE_OF_STEP = {EXPIRE: "MISSING_FROM_FEED", DEACTIVATE: "MISSING_FROM_FEED",
                       "reactivate": "BACK_IN_FEED"}  # fmt: skip
LEAVERS_DONE = "leavers_done"  # the checkpoint's mark: the step is applied (a resume skips it)
LEAVER_RECORD_COLUMNS = (
    "job_id", "file", "entry", "line", "position", "match_value", "primary_id", "patron_id",
    "outcome", "reason_code", "reason", "changes",
)  # fmt: skip


def leavers_today(institution: Institution) -> dt.date:
    """Today in the institution's time zone: the day the rule counts from."""
    return timezone.localtime(timezone.now(), ZoneInfo(institution.time_zone)).date()


def job_leaver_rule(job: Job) -> LeaverRule:
    """The leavers rule a job runs with (from its parameters); off for an Import or a Run
    again of rejected users, which are not the complete feed."""
    parameters = job.parameters
    if job.kind != JobKind.SYNCHRONIZE or parameters.get("rerun_of"):
        return LeaverRule()
    return leaver_rule_from(parameters.get("leavers") or {}, where="parameters.leavers")


class JobLeavers:
    """The leavers step of one run (see the module's docstring)."""

    def __init__(self, runner: JobRunner, ctx: RunContext, rule: LeaverRule) -> None:
        self.runner = runner
        self.ctx = ctx
        self.rule = rule

    @classmethod
    def start(cls, *, runner: JobRunner, ctx: RunContext) -> JobLeavers:
        """Before the files: a complete feed's run notes the users it carries (`ctx.seen`)."""
        rule = job_leaver_rule(runner.job)
        if rule.complete_snapshot:
            ctx.seen = TouchedUsers.load(runner.job.checkpoint.get("seen", ""))
        return cls(runner, ctx, rule)

    @property
    def active(self) -> bool:
        return self.rule.complete_snapshot and self.ctx.seen is not None

    def _seen(self, patron_id: int) -> bool:
        assert self.ctx.seen is not None
        return patron_id in self.ctx.seen

    def plan(self, *, today: dt.date | None = None) -> LeaversPlan:
        """What the step would do now, from the users the run carried; writes nothing.

        For the guard, after the feed was read: its expirations and deactivations
        (`plan.expire`, `plan.deactivate`) against its thresholds; `plan.missing` the users the
        feed did not carry, `plan.profile_users` all of the profile's. Empty when the profile has
        no leavers rule.
        """
        if not self.active:
            return LeaversPlan()
        return leavers_plan(
            institution=self.ctx.institution,
            profile_code=self.ctx.profile_code,
            rule=self.rule,
            seen=self._seen,
            today=today or leavers_today(self.ctx.institution),
        )

    def finish(self, *, had_problems: bool) -> LeaversPlan | None:
        """After every file loaded: apply the step (a dry run records its plan); returns what
        it did, or None when it did not run, with a line in the job's log saying why."""
        if not self.active:
            return None
        runner, job = self.runner, self.runner.job
        log = runner.logger
        status = Job.objects.filter(pk=job.pk).values_list("status", "checkpoint")[0]
        if status[1].get(LEAVERS_DONE):
            return None  # a resumed job whose step was committed before it stopped
        if status[0] == JobStatus.HELD:
            log.info("Leavers: nothing expired or deactivated while the run is held")
            return None
        if had_problems:
            log.warning(
                "Leavers: the run had file problems, so it is not a complete feed: nobody is "
                "counted missing, expired or deactivated"
            )
            return None
        if not any("users" in entry for entry in runner.files):
            log.info("Leavers: no file was loaded, so no complete feed: nobody is counted missing")
            return None
        today = leavers_today(job.institution)
        dry_run = self.ctx.dry_run  # a dry run, or the guard's plan pass
        counts: Counter[str] = Counter()

        def record(steps: list[LeaverStep]) -> None:
            rows = []
            for step in steps:
                outcome = OUTCOME_OF_STEP[(step.kind, dry_run)]
                counts[outcome] += 1
                rows.append((job.pk, "", "", None, 0, step.primary_id[:255], step.primary_id[:255],
                             step.patron_id, str(outcome), REASON_CODE_OF_STEP[step.kind],
                             step.reason, step.changes))  # fmt: skip
            insert_rows(JobRecord, LEAVER_RECORD_COLUMNS, rows)

        arguments: dict[str, Any] = {
            "institution": job.institution,
            "profile_code": self.ctx.profile_code,
            "rule": self.rule,
            "seen": self._seen,
            "today": today,
        }
        with transaction.atomic():
            if dry_run:
                done = leavers_plan(**arguments, step_seen=record)
            else:
                done = leavers_apply(
                    **arguments, actor=Actor.job(job.pk, job.title), step_done=record
                )
            runner._hold(
                checkpoint={**status[1], LEAVERS_DONE: True},
                **_counter_updates(counts),
            )
        planned = getattr(runner, "plan_outcomes", None)
        if dry_run and planned is not None:  # the guard counts the plan's outcomes
            planned.update({str(outcome): n for outcome, n in counts.items()})
        log.info(
            "Leavers: %s of the profile's %s users missing from this complete feed%s; %s %s, "
            "%s %s, %s %s",
            done.missing,
            done.profile_users,
            f" ({done.exempt} exempt left alone)" if done.exempt else "",
            done.expire,
            "would be expired" if dry_run else "expired",
            done.deactivate,
            "would be deactivated" if dry_run else "deactivated",
            done.reactivate,
            "would be reactivated" if dry_run else "reactivated",
        )
        return done


def _counter_updates(counts: Counter[str]) -> dict[str, Any]:
    """The job's counters the steps add to (`runner.COUNTER_OF_OUTCOME`): an expired or
    deactivated user is one more updated user; a reactivated one was counted by its record."""
    from .runner import COUNTER_OF_OUTCOME

    per_counter: Counter[str] = Counter()
    for outcome, n in counts.items():
        if outcome in (RecordOutcome.REACTIVATED, RecordOutcome.WOULD_REACTIVATE):
            continue
        per_counter[COUNTER_OF_OUTCOME[outcome]] += n
    return {counter: F(counter) + n for counter, n in per_counter.items()}
