"""Committing a decided batch: users, identifiers, history, job records, counters, checkpoint.

Everything is written in one transaction with `executemany` (see `core.bulk`), so a job killed
at any moment leaves either the whole batch and its checkpoint, or none of it.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from patronsync.core.bulk import allocate_ids, bulk_insert, bulk_update, insert_rows
from patronsync.jobs.choices import RecordOutcome
from patronsync.jobs.models import JobRecord
from patronsync.patrons.choices import ActorKind, ChangeAction
from patronsync.patrons.models import Patron, PatronChange, PatronIdentifier
from patronsync.patrons.state import IDENTIFIER_COLUMNS, identifier_rows

from .batch import BatchProcessor, Outcome
from .context import RunContext

PATRON_FIELDS = [
    f.name
    for f in Patron._meta.concrete_fields
    if f.name not in {"id", "institution", "created_at"}
]


# Which job counter each outcome adds to; a dry run counts what it would do.
COUNTER_OF_OUTCOME: dict[str, str] = {
    RecordOutcome.CREATED: "created",
    RecordOutcome.WOULD_CREATE: "created",
    RecordOutcome.UPDATED: "updated",
    RecordOutcome.WOULD_UPDATE: "updated",
    RecordOutcome.UNCHANGED: "unchanged",
    RecordOutcome.REJECTED: "rejected",
}


CHANGE_COLUMNS = (
    "institution_id", "patron_id", "primary_id", "action", "actor_kind", "actor_label", "job_id",
    "changes", "created_at",
)  # fmt: skip
RECORD_COLUMNS = (
    "job_id", "file", "entry", "line", "position", "match_value", "primary_id", "patron_id",
    "outcome", "reason_code", "reason", "changes",
)  # fmt: skip


def _written(outcomes: list[Outcome], outcome: str) -> list[tuple[Outcome, Patron]]:
    return [(o, o.patron) for o in outcomes if o.outcome == outcome and o.patron is not None]


def write_batch(ctx: RunContext, processor: BatchProcessor, checkpoint: dict[str, Any]) -> None:
    """Commit one batch: users, identifiers, history, job records, counters and checkpoint.

    In a dry run only the job records, counters and checkpoint are written.
    """
    outcomes = processor.outcomes
    job = ctx.job
    with transaction.atomic():
        if not ctx.dry_run:
            created = _written(outcomes, RecordOutcome.CREATED)
            updated = _written(outcomes, RecordOutcome.UPDATED)
            new_ids = allocate_ids(Patron, len(created))
            for (_, patron), pk in zip(created, new_ids, strict=True):
                patron.id = pk
                ctx.touched.add(pk)
            bulk_insert(Patron, [patron for _, patron in created], with_pk=True)
            bulk_update(Patron, [patron for _, patron in updated], PATRON_FIELDS)
            # Unchanged users: new hashes, and the SIS values remembered for protected fields.
            bulk_update(Patron, processor.hash_refresh, ["raw_hash", "content_hash", "protection"])
            ids_changed = [
                (o, patron)
                for o, patron in updated
                if "user_identifier" in o.changes or "primary_id" in o.changes
            ]
            PatronIdentifier.objects.filter(patron_id__in=[p.id for _, p in ids_changed]).delete()
            rows = [
                row
                for o, patron in (*created, *ids_changed)
                for row in identifier_rows(patron, o.identifiers or [])
            ]
            insert_rows(PatronIdentifier, IDENTIFIER_COLUMNS, rows)
            now = timezone.now()
            insert_rows(
                PatronChange,
                CHANGE_COLUMNS,
                [
                    (ctx.institution.id, patron.id, patron.primary_id, action, ActorKind.JOB.value,
                     job.title, job.id, o.changes, now)
                    for action, written in ((ChangeAction.CREATED.value, created),
                                            (ChangeAction.UPDATED.value, updated))
                    for o, patron in written
                ],
            )  # fmt: skip
        insert_rows(
            JobRecord,
            RECORD_COLUMNS,
            [
                (job.id, o.raw.position.file, o.raw.position.entry or "", o.raw.position.line,
                 o.raw.position.ordinal, o.match_value[:255], o.primary_id[:255],
                 o.patron.id if o.patron is not None else None, str(o.outcome), o.reason_code,
                 o.reason, o.changes)
                for o in outcomes
                if o.outcome != RecordOutcome.UNCHANGED
            ],
        )  # fmt: skip
        job.total_records_processed += len(outcomes)
        for o in outcomes:
            counter = COUNTER_OF_OUTCOME[o.outcome]
            setattr(job, counter, getattr(job, counter) + 1)
        job.checkpoint = {**checkpoint, "touched": ctx.touched.dump()}
        job.save(
            update_fields=[
                "total_records_processed",
                "created",
                "updated",
                "unchanged",
                "rejected",
                "checkpoint",
                "heartbeat_at",
            ]
        )
