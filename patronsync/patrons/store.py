"""The user store's one writer: users, identifiers and history, for a batch or for one user.

Plans (`planning.py`) whose values were claimed (`claims.py`) are written here with
`executemany` or COPY (`core.bulk`), whether they come from a feed of a million users or from one
API call. Writes run inside the caller's transaction, in a savepoint of their own: when the
database still refuses a batch (a value the claims could not see, such as one a concurrent
writer took a moment ago), the batch is written again one user at a time, and each user the
database refuses is handed back with the database's reason, while the others are written.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby

from django.db import DataError, IntegrityError, transaction
from django.utils import timezone

from patronsync.core.bulk import allocate_ids, bulk_insert, bulk_update, insert_rows
from patronsync.core.exceptions import RuleViolation

from .choices import ChangeAction
from .models import Patron, PatronChange, PatronIdentifier
from .planning import Actor, Plan
from .search import patron_fill_search_keys
from .state import IDENTIFIER_COLUMNS, identifier_rows

PATRON_FIELDS = tuple(
    f.name
    for f in Patron._meta.concrete_fields
    if f.name not in {"id", "institution", "created_at"}
)
# What a user whose bytes did not change gets written: new hashes, the SIS values remembered.
REFRESH_FIELDS = ("raw_hash", "content_hash", "protection")
# What the database says of a row it will not take: a user's fault, rejected alone. Any other
# error (a lost connection, a deadlock) stops the job, which resumes from its checkpoint.
REFUSALS = (IntegrityError, DataError)
CHANGE_COLUMNS = (
    "institution_id", "patron_id", "primary_id", "action", "actor_kind", "actor_user_id",
    "actor_label", "job_id", "file", "entry", "line", "changes", "created_at",
)  # fmt: skip
NO_ORIGIN = ("", "", None)


def patrons_write(
    *, plans: Sequence[Plan], actor: Actor, refreshed: Sequence[Patron] = ()
) -> list[tuple[Plan, RuleViolation]]:
    """Write `plans` (and the hashes of `refreshed` users); return the plans the database refused.

    Created users get their ids here. A refused plan is left unwritten, with a
    `DATABASE_REFUSED` violation giving the database's reason; every other plan is written.
    """
    try:
        with transaction.atomic():
            _write(plans, actor, refreshed)
        return []
    except REFUSALS:
        pass
    refused = []
    for plan in plans:
        try:
            with transaction.atomic():
                _write([plan], actor, ())
        except REFUSALS as exc:
            refused.append((plan, _refusal(plan, exc)))
    with transaction.atomic():
        _write([], actor, refreshed)
    return refused


def _refusal(plan: Plan, exc: Exception) -> RuleViolation:
    if plan.created:
        plan.patron.id = None
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return RuleViolation(
        f"The database refused user {plan.patron.primary_id}: {reason}",
        code="DATABASE_REFUSED",
        field="",
        value=plan.patron.primary_id,
    )


def _write(plans: Sequence[Plan], actor: Actor, refreshed: Sequence[Patron]) -> None:
    created = [plan for plan in plans if plan.created]
    updated = [plan for plan in plans if not plan.created]
    now = timezone.now()
    for plan, pk in zip(created, allocate_ids(Patron, len(created)), strict=True):
        plan.patron.id = pk
        plan.patron.created_at = now
    for plan in plans:
        plan.patron.updated_at = now
        if plan.fields is None:  # a narrow update (`fields`) leaves names and emails alone
            patron_fill_search_keys(plan.patron)
    # Updates first: a user renamed in this batch frees its old primary ID for a new user.
    by_fields = sorted(updated, key=lambda plan: plan.fields or PATRON_FIELDS)
    for fields, group in groupby(by_fields, key=lambda plan: plan.fields or PATRON_FIELDS):
        bulk_update(Patron, [plan.patron for plan in group], fields, now=now)
    bulk_update(Patron, refreshed, REFRESH_FIELDS)
    replaced = [plan for plan in updated if plan.identifiers_changed]
    PatronIdentifier.objects.filter(patron_id__in=[plan.patron.id for plan in replaced]).delete()
    bulk_insert(Patron, [plan.patron for plan in created], with_pk=True, now=now)
    insert_rows(
        PatronIdentifier,
        IDENTIFIER_COLUMNS,
        [
            row
            for plan in (*created, *replaced)
            for row in identifier_rows(plan.patron, plan.identifiers)
        ],
    )
    user_id = actor.user.pk if actor.user is not None else None
    insert_rows(
        PatronChange,
        CHANGE_COLUMNS,
        [
            (plan.patron.institution_id, plan.patron.id, plan.patron.primary_id,
             ChangeAction.CREATED.value if plan.created else ChangeAction.UPDATED.value,
             str(actor.kind), user_id, actor.label, actor.job_id, *(plan.origin or NO_ORIGIN),
             plan.changes, now)
            for plan in plans
            if plan.created or plan.changes
        ],
    )  # fmt: skip
