"""Committing a decided batch: the user store writes its users, then the sink records the batch.

Everything is written in one transaction, so a job killed at any moment leaves either the whole
batch and its checkpoint, or none of it. The engine writes no user, identifier or history row
itself: `patrons.store.patrons_write` does, as it does for every other writer of users.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from patronsync.patrons.store import patrons_write

from .batch import BatchProcessor
from .context import RunContext


def write_batch(ctx: RunContext, processor: BatchProcessor, checkpoint: dict[str, Any]) -> None:
    """Commit one batch in one transaction: its users, then what the sink records of it.

    In a dry run no user is written; the sink still records the batch. A user the database
    refuses (the store's last line of defence) is rejected with the database's reason.
    """
    with transaction.atomic():
        if not ctx.dry_run:
            write_users(ctx, processor)
        checkpoint = {**checkpoint, "touched": ctx.touched.dump()}
        if ctx.seen is not None:  # a complete feed's users so far (leavers), for a resume
            checkpoint["seen"] = ctx.seen.dump()
        ctx.sink.record_batch(outcomes=processor.outcomes, checkpoint=checkpoint)


def write_users(ctx: RunContext, processor: BatchProcessor) -> None:
    """Have the store write the batch's accepted plans; reject the users it refuses."""
    accepted = processor.accepted()
    refused = patrons_write(
        plans=[out.plan for out in accepted if out.plan is not None],
        actor=processor.actor,
        refreshed=processor.refreshed,
    )
    refused_plans = {id(plan): problem for plan, problem in refused}
    for out in accepted:
        assert out.plan is not None
        problem = refused_plans.get(id(out.plan))
        if problem is not None:
            out.reject(problem)
        elif out.plan.created:
            ctx.touched.add(out.plan.patron.pk)
            if ctx.seen is not None:
                ctx.seen.add(out.plan.patron.pk)
