"""Every write on users: create, update, Swap All, delete, for the API, the pages and the admin.

Each is "plan one, claim, apply one" on the store's single write path, the same one a feed's
batch takes: `planning` decides the user's new values and the changes, `claims` checks that its
primary ID and identifiers are free, `store` writes the user, its identifiers and the history
row. A broken rule raises `RuleViolation` (in Alma's words) before anything is written.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from patronsync.core.exceptions import RuleViolation
from patronsync.core.models import Institution
from patronsync.core.selectors import CodeTables, code_tables_for_institution

from .choices import ChangeAction
from .claims import IdentifierClaims
from .fields import PROTECTED_FIELDS
from .models import Patron, PatronChange
from .planning import (
    Actor,
    Plan,
    diff_snapshots,
    patron_snapshot,
    plan_create,
    plan_restore,
    plan_swap_all,
    plan_update,
)
from .rules import patron_data_from_json
from .state import current_identifiers
from .store import patrons_write
from .swap import API_MODE, SwapContext

__all__ = [
    "Actor",
    "patron_create",
    "patron_delete",
    "patron_restore",
    "patron_set_exempt",
    "patron_swap_all",
    "patron_update",
    "patrons_feed_bytes_forget",
]


def _claim_and_write(plan: Plan, actor: Actor) -> None:
    """Claim the plan's values (a taken one raises Alma's 401851) and write it."""
    claims = IdentifierClaims(institution=plan.patron.institution)
    problem = claims.claim(plan.keys(), plan, patron_id=plan.patron.pk, released=plan.released)
    if problem is not None:
        raise problem
    refused = patrons_write(plans=[plan], actor=actor)
    if refused:
        # Another writer took a value between the claim and the write: say who, as Alma does.
        again = IdentifierClaims(institution=plan.patron.institution)
        raise again.claim(plan.keys(), plan, patron_id=plan.patron.pk) or refused[0][1]


def _segment_type_for(data: dict[str, Any], patron: Patron | None = None) -> str | None:
    """Internal users' segments default to Internal, as rest_user.xsd says; others External."""
    account_type = data.get("account_type") or (patron.account_type if patron else None)
    if isinstance(account_type, dict):
        account_type = account_type.get("value")
    return "Internal" if account_type == "INTERNAL" else None


@transaction.atomic
def patron_create(
    *,
    institution: Institution,
    data: dict[str, Any],
    actor: Actor,
    codes: CodeTables | None = None,
) -> Patron:
    """Create a user from its Alma JSON form, with Alma's defaults (see `plan_create`)."""
    codes = codes or code_tables_for_institution(institution=institution)
    checked = patron_data_from_json(data, codes=codes, segment_type=_segment_type_for(data))
    plan = plan_create(
        institution=institution, data=checked, codes=codes, context=SwapContext(mode=API_MODE)
    )
    _claim_and_write(plan, actor)
    return plan.patron


@transaction.atomic
def patron_update(
    *,
    patron: Patron,
    data: dict[str, Any],
    actor: Actor,
    codes: CodeTables | None = None,
) -> dict[str, Any]:
    """Replace the fields and segment lists that `data` carries; returns the field changes.

    When people (staff or API) change a protected field of an external user, the field is marked
    manually changed, so the next synchronize keeps it. Nothing changed means nothing written.
    """
    codes = codes or code_tables_for_institution(institution=patron.institution)
    checked = patron_data_from_json(data, codes=codes, segment_type=_segment_type_for(data, patron))
    before_protection = patron.protection
    plan = plan_update(
        patron=patron, current=current_identifiers(patron), data=checked, actor=actor
    )
    if plan.changes or patron.protection != before_protection:
        _claim_and_write(plan, actor)
    return plan.changes


@transaction.atomic
def patron_swap_all(
    *,
    patron: Patron,
    data: dict[str, Any],
    actor: Actor,
    context: SwapContext,
    codes: CodeTables | None = None,
) -> dict[str, Any]:
    """Update one user in Swap All mode (see `swap.py`); returns the field changes.

    Used by the API's PUT. Nothing changed means nothing written, unless only the protection
    state moved (then the user row is saved, with no history row).
    """
    codes = codes or code_tables_for_institution(institution=patron.institution)
    incoming = patron_data_from_json(
        data, codes=codes, segment_type=_segment_type_for(data, patron)
    )
    before_protection = patron.protection
    plan = plan_swap_all(
        patron=patron,
        current=current_identifiers(patron),
        incoming=incoming,
        context=context,
        actor=actor,
    )
    if plan.changes or patron.protection != before_protection:
        _claim_and_write(plan, actor)
    return plan.changes


@transaction.atomic
def patron_restore(*, patron: Patron, field: str, actor: Actor) -> dict[str, Any]:
    """Alma's Restore: give a protected field that the library changed back to the SIS.

    The field takes the last value the SIS sent (kept in `Patron.protection`) and its manual
    mark is lifted, so the next Synchronize sets it again; recorded in the history with `actor`.
    Returns the field changes. Raises `RuleViolation` naming the field when it is not a
    protected field or the library has not changed it.
    """
    if field not in PROTECTED_FIELDS:
        raise RuleViolation(
            f"Field {field} is not a protected field: only protected fields can be restored",
            code="NOT_PROTECTED_FIELD",
            field=field,
            value=field,
        )
    if not patron.is_manually_changed(field):
        raise RuleViolation(
            f"Field {field} was not changed in the library: it follows the SIS already",
            code="NOT_CHANGED_IN_LIBRARY",
            field=field,
            value=field,
        )
    plan = plan_restore(patron=patron, current=current_identifiers(patron), name=field)
    _claim_and_write(plan, actor)
    return plan.changes


def patrons_feed_bytes_forget(*, institution: Institution, external_id: str) -> int:
    """Make the next Synchronize compare each feed record of a profile's users (external ID
    `external_id`) field by field instead of skipping unchanged bytes; returns how many users.

    Called when the profile's field ownership changes: a field given back to the SIS must take
    the SIS's value even from a record the SIS has not changed since.
    """
    users = Patron.objects.filter(institution=institution, external_id=external_id)
    return users.exclude(raw_hash="", content_hash="").update(raw_hash="", content_hash="")


@transaction.atomic
def patron_delete(*, patron: Patron, actor: Actor) -> None:
    """Delete a user and its identifiers; the history keeps a 'deleted' row with its last values."""
    snapshot = patron_snapshot(patron, identifiers=current_identifiers(patron))
    PatronChange.objects.create(
        institution_id=patron.institution_id,
        patron=None,
        primary_id=patron.primary_id,
        action=ChangeAction.DELETED,
        actor_kind=actor.kind,
        actor_user=actor.user,
        actor_label=actor.label,
        job_id=actor.job_id,
        changes=diff_snapshots(snapshot, {}),
    )
    patron.delete()


@transaction.atomic
def patron_set_exempt(*, patron: Patron, exempt: bool, actor: Actor) -> bool:
    """Mark a user exempt from the leavers rule and purge, or lift the mark (staff only: a feed
    never sets it); recorded in the user's history with `actor`. Returns whether it changed."""
    if patron.exempt == exempt:
        return False
    changes = {"exempt": {"before": patron.exempt, "after": exempt}}
    patron.exempt = exempt
    refused = patrons_write(
        plans=[Plan(patron, [], changes, fields=("exempt", "updated_at"))], actor=actor
    )
    if refused:
        raise refused[0][1]
    return True
