"""Committing a decided batch: users, identifiers and history, then what the job records.

Everything is written in one transaction with `executemany` (see `core.bulk`), so a job killed
at any moment leaves either the whole batch and its checkpoint, or none of it.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from patronsync.core.bulk import allocate_ids, bulk_insert, bulk_update, insert_rows
from patronsync.patrons.choices import ActorKind, ChangeAction
from patronsync.patrons.models import Patron, PatronChange, PatronIdentifier
from patronsync.patrons.state import IDENTIFIER_COLUMNS, identifier_rows

from .batch import BatchProcessor, Outcome
from .choices import RecordOutcome
from .context import RunContext

PATRON_FIELDS = [
    f.name
    for f in Patron._meta.concrete_fields
    if f.name not in {"id", "institution", "created_at"}
]


CHANGE_COLUMNS = (
    "institution_id", "patron_id", "primary_id", "action", "actor_kind", "actor_label", "job_id",
    "changes", "created_at",
)  # fmt: skip


def _written(outcomes: list[Outcome], outcome: str) -> list[tuple[Outcome, Patron]]:
    return [(o, o.patron) for o in outcomes if o.outcome == outcome and o.patron is not None]


def write_batch(ctx: RunContext, processor: BatchProcessor, checkpoint: dict[str, Any]) -> None:
    """Commit one batch in one transaction: its users, then what the sink records of it.

    In a dry run no user is written; the sink still records the batch.
    """
    with transaction.atomic():
        if not ctx.dry_run:
            write_users(ctx, processor)
        checkpoint = {**checkpoint, "touched": ctx.touched.dump()}
        ctx.sink.record_batch(outcomes=processor.outcomes, checkpoint=checkpoint)


def write_users(ctx: RunContext, processor: BatchProcessor) -> None:
    """Write the batch's created and updated users, their identifiers and history."""
    outcomes = processor.outcomes
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
             ctx.job_title, ctx.job_id, o.changes, now)
            for action, written in ((ChangeAction.CREATED.value, created),
                                    (ChangeAction.UPDATED.value, updated))
            for o, patron in written
        ],
    )  # fmt: skip
