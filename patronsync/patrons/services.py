"""Every write on users: create, update, delete. Each enforces the rules and writes history.

Writes are all-or-nothing: a broken rule raises `RuleViolation` before anything is saved, and a
uniqueness race that slips past the checks is turned into the same error by the database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from patronsync.accounts.models import StaffUser
from patronsync.core.exceptions import RuleViolation
from patronsync.core.models import Institution
from patronsync.core.selectors import CodeTables, code_tables_for_institution

from .choices import AccountType, ActorKind, ChangeAction, UserStatus
from .fields import CORE_FIELDS, PRIMARY_ID_TYPE, PROTECTED_FIELDS
from .models import Patron, PatronChange, PatronIdentifier
from .rules import PatronData, check_account, check_identifiers_within_user, patron_data_from_json
from .state import (
    IDENTIFIER_COLUMNS,
    current_identifiers,
    identifier_rows,
    protected_value,
    set_core,
)
from .swap import SwapContext, swap_all

MASK = "********"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is writing: a staff account, an API key, a job or the system itself."""

    kind: str
    user: StaffUser | None = None
    job_id: int | None = None
    label: str = ""

    @classmethod
    def staff(cls, user: StaffUser) -> Actor:
        return cls(kind=ActorKind.STAFF, user=user, label=user.get_username())

    @classmethod
    def api(cls, label: str) -> Actor:
        return cls(kind=ActorKind.API, label=label)

    @classmethod
    def job(cls, job_id: int, label: str = "") -> Actor:
        return cls(kind=ActorKind.JOB, job_id=job_id, label=label or f"job {job_id}")

    @classmethod
    def system(cls, label: str = "patronsync") -> Actor:
        return cls(kind=ActorKind.SYSTEM, label=label)

    @property
    def is_manual(self) -> bool:
        """Edits by people (pages or API) protect the fields they change from the SIS."""
        return self.kind in (ActorKind.STAFF, ActorKind.API)


def patron_snapshot(
    patron: Patron, *, identifiers: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The user's values as a flat JSON-ready dict: the before/after of history rows.

    Identifiers come from the database unless the caller passes the list about to be written.
    """
    snapshot: dict[str, Any] = {}
    for name in CORE_FIELDS:
        if name == "pin_number":
            snapshot[name] = MASK if patron.pin_hash else ""
        elif name == "password":
            snapshot[name] = MASK if patron.password_hash else ""
        else:
            value = getattr(patron, name)
            snapshot[name] = value.isoformat() if isinstance(value, dt.date) else value
    if identifiers is None:
        identifiers = current_identifiers(patron)
    snapshot["user_identifier"] = [
        {"id_type": i["id_type"]["value"], "value": i["value"], "segment_type": i["segment_type"]}
        for i in identifiers
    ]
    snapshot.update(dict(sorted(patron.segments.items())))
    snapshot["researcher"] = patron.researcher
    return snapshot


def diff_snapshots(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Field-level changes between two snapshots: {field: {"before": x, "after": y}}."""
    changes = {}
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old in (None, "", []) and new in (None, "", []):
            continue
        if old != new:
            changes[key] = {"before": old, "after": new}
    return changes


def _mark_manual_changes(patron: Patron, before: dict[str, Any]) -> None:
    """Record that people changed protected fields of an external user, so Swap All keeps them."""
    if patron.account_type != AccountType.EXTERNAL:
        return
    protection = dict(patron.protection)
    for name in PROTECTED_FIELDS:
        if before[name] != protected_value(patron, name):
            state = dict(protection.get(name) or {})
            state["manual"] = True
            protection[name] = state
    patron.protection = protection


def _apply(patron: Patron, data: PatronData) -> None:
    for name, value in data.core.items():
        set_core(patron, name, value)
    if data.segments:
        segments = dict(patron.segments)
        for key, items in data.segments.items():
            if items:
                segments[key] = items
            else:
                segments.pop(key, None)
        patron.segments = segments
    if data.researcher is not None:
        patron.researcher = data.researcher


def _check_identifiers_free(
    *, institution: Institution, patron: Patron | None, rows: list[PatronIdentifier]
) -> None:
    """Alma 401851: an identifier (or primary ID) already taken by another user."""
    keys = {row.value_key: row for row in rows}
    taken = PatronIdentifier.objects.filter(institution=institution, value_key__in=list(keys))
    if patron is not None and patron.pk is not None:
        taken = taken.exclude(patron=patron)
    clash = taken.select_related("patron").first()
    if clash is None:
        return
    row = keys[clash.value_key]
    if row.id_type == PRIMARY_ID_TYPE:
        raise RuleViolation(
            f"User with identifier {row.value} of type primary_id already exists "
            f"(used by user {clash.patron.primary_id})",
            code="PRIMARY_ID_TAKEN",
            field="primary_id",
            value=row.value,
            alma_code="401851",
        )
    raise RuleViolation(
        f"User with identifier {row.value} of type {row.id_type} already exists "
        f"(used by user {clash.patron.primary_id})",
        code="IDENTIFIER_TAKEN",
        field="user_identifier",
        value=row.value,
        alma_code="401851",
    )


def _identifier_rows(patron: Patron, identifiers: list[dict[str, Any]]) -> list[PatronIdentifier]:
    return [
        PatronIdentifier(**dict(zip(IDENTIFIER_COLUMNS, row, strict=True)))
        for row in identifier_rows(patron, identifiers)
    ]


def _write_history(
    *, patron: Patron, action: str, actor: Actor, changes: dict[str, Any]
) -> PatronChange:
    return PatronChange.objects.create(
        institution_id=patron.institution_id,
        patron=patron if action != ChangeAction.DELETED else None,
        primary_id=patron.primary_id,
        action=action,
        actor_kind=actor.kind,
        actor_user=actor.user,
        actor_label=actor.label,
        job_id=actor.job_id,
        changes=changes,
    )


def _require_primary_id(primary_id: str) -> None:
    if not primary_id:
        raise RuleViolation(
            "Mandatory field is missing: primary_id",
            code="MANDATORY_FIELD_MISSING",
            field="primary_id",
            alma_code="401664",
        )


def _save_with_identifiers(
    patron: Patron, identifiers: list[dict[str, Any]], *, replace: bool
) -> None:
    check_identifiers_within_user(patron.primary_id, identifiers)
    rows = _identifier_rows(patron, identifiers)
    _check_identifiers_free(institution=patron.institution, patron=patron, rows=rows)
    try:
        with transaction.atomic():
            patron.save()
            if replace:
                PatronIdentifier.objects.filter(patron=patron).delete()
            for row in rows:  # a new user has its id only now
                row.patron_id = patron.pk
            PatronIdentifier.objects.bulk_create(rows)
    except IntegrityError as exc:
        raise RuleViolation(
            f"User {patron.primary_id}: an identifier was taken by another user meanwhile",
            code="IDENTIFIER_TAKEN",
            field="user_identifier",
            alma_code="401851",
        ) from exc


def patron_build(*, institution: Institution, data: PatronData, codes: CodeTables) -> Patron:
    """A new, unsaved user from checked data, with Alma's defaults.

    Defaults: status ACTIVE, preferred language `en` (the code table's default), account type
    EXTERNAL, record type PUBLIC. Used by `patron_create` and by the sync engine's bulk path.
    """
    core = data.core
    _require_primary_id(core.get("primary_id", ""))
    core["status"] = core.get("status") or UserStatus.ACTIVE
    core["preferred_language"] = (
        core.get("preferred_language") or codes.default("UserPreferredLanguage") or "en"
    )
    core["account_type"] = core.get("account_type") or AccountType.EXTERNAL
    core["record_type"] = core.get("record_type") or "PUBLIC"
    check_account(core)
    patron = Patron(institution=institution)
    _apply(patron, data)
    return patron


@transaction.atomic
def patron_create(
    *,
    institution: Institution,
    data: dict[str, Any],
    actor: Actor,
    codes: CodeTables | None = None,
) -> Patron:
    """Create a user from its Alma JSON form, with Alma's defaults (see `patron_build`)."""
    codes = codes or code_tables_for_institution(institution=institution)
    checked = patron_data_from_json(data, codes=codes)
    patron = patron_build(institution=institution, data=checked, codes=codes)
    _save_with_identifiers(patron, checked.identifiers or [], replace=False)
    _write_history(
        patron=patron,
        action=ChangeAction.CREATED,
        actor=actor,
        changes=diff_snapshots({}, patron_snapshot(patron)),
    )
    return patron


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
    checked = patron_data_from_json(data, codes=codes)
    if "primary_id" in checked.present:
        _require_primary_id(checked.core["primary_id"])
    before_snapshot = patron_snapshot(patron)
    before_protected = {name: protected_value(patron, name) for name in PROTECTED_FIELDS}
    identifiers = (
        checked.identifiers if checked.identifiers is not None else current_identifiers(patron)
    )
    _apply(patron, checked)
    check_account({"account_type": patron.account_type, "external_id": patron.external_id})
    if actor.is_manual:
        _mark_manual_changes(patron, before_protected)
        # The next synchronize must compare the feed with this edit, not skip the user.
        patron.raw_hash = patron.content_hash = ""
    changes = diff_snapshots(before_snapshot, patron_snapshot(patron, identifiers=identifiers))
    if not changes:
        return {}
    if "primary_id" in changes or "user_identifier" in changes:
        _save_with_identifiers(patron, identifiers, replace=True)
    else:
        patron.save()
    _write_history(patron=patron, action=ChangeAction.UPDATED, actor=actor, changes=changes)
    return changes


@transaction.atomic
def patron_delete(*, patron: Patron, actor: Actor) -> None:
    """Delete a user and its identifiers; the history keeps a 'deleted' row with its last values."""
    snapshot = patron_snapshot(patron)
    _write_history(
        patron=patron,
        action=ChangeAction.DELETED,
        actor=actor,
        changes=diff_snapshots(snapshot, {}),
    )
    patron.delete()


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

    Used by the API's PUT and by a synchronize for one user. Nothing changed means nothing
    written, unless only the protection state moved (then the user row is saved, silently).
    """
    codes = codes or code_tables_for_institution(institution=patron.institution)
    incoming = patron_data_from_json(data, codes=codes)
    before_snapshot = patron_snapshot(patron)
    before_protection = patron.protection
    identifiers = swap_all(patron=patron, incoming=incoming, context=context)
    if actor.is_manual:
        patron.raw_hash = patron.content_hash = ""  # see patron_update
    _require_primary_id(patron.primary_id)
    check_account({"account_type": patron.account_type, "external_id": patron.external_id})
    changes = diff_snapshots(before_snapshot, patron_snapshot(patron, identifiers=identifiers))
    if "primary_id" in changes or "user_identifier" in changes:
        _save_with_identifiers(patron, identifiers, replace=True)
    elif changes or patron.protection != before_protection:
        patron.save()
    if changes:
        _write_history(patron=patron, action=ChangeAction.UPDATED, actor=actor, changes=changes)
    return changes
