"""The user store's planner: stored user + incoming data + who is writing, in, a plan out.

Every write of a user, from a feed, the Alma API, a staff page or the admin, is planned here and
then claimed (`claims.py`) and applied (`store.py`). Planning is pure: it changes `Patron`
objects in memory and never queries the database (the caller passes the user's current
identifiers), so the engine plans thousands of users a second and a test needs no database.

What a feed may set is narrower than what the API may (SPEC §1, §3.3): a feed never sets roles,
passwords or output-only fields, on create or on update, and it always sets the profile's record
type, account type EXTERNAL and the profile's code as external ID.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from patronsync.accounts.models import StaffUser
from patronsync.core.exceptions import RuleViolation
from patronsync.core.models import Institution
from patronsync.core.selectors import CodeTables

from .choices import AccountType, ActorKind, SegmentType, UserStatus
from .fields import (
    CORE_FIELDS,
    PRIMARY_ID_TYPE,
    PROTECTED_FIELDS,
    PROTECTED_SEGMENT_KEYS,
    TYPED_SEGMENTS,
)
from .models import Patron, identifier_key
from .rules import PatronData, check_account, check_identifiers_within_user
from .state import protected_value, set_core
from .swap import SIS_MODE, SwapContext, manually_changed, sis_protection, swap_all, swap_restore

MASK = "********"
# The change entry of a user whose manually changed fields follow the SIS again.
KEPT_BY_STAFF = "kept_by_staff"
# What a feed never sets: internal users' credentials and output-only fields (SPEC §3.3).
FEED_IGNORED_CORE = ("password", "force_password_change", "status_date")
# The keys of a user's changes that are protected fields (their snapshot names).
PROTECTED_CHANGE_KEYS = frozenset(PROTECTED_SEGMENT_KEYS.get(n, n) for n in PROTECTED_FIELDS)
# Segments a feed never sets: roles are not part of the SIS load (SPEC §1, rest_user.xsd).
FEED_IGNORED_SEGMENTS = ("user_role",)


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


@dataclass(slots=True)
class Plan:
    """One user's write, decided: the user as it will be stored, its identifiers, the changes.

    `identifiers` are the user's identifiers other than the primary ID, in the order stored.
    `released` holds the identifier keys the user gives up (an update that drops or renames
    one), so that a later user of the same batch may take them. `fields`, when set, names the
    only columns an update writes. `origin` is where a feed's record was (the audit trail).
    """

    patron: Patron
    identifiers: list[dict[str, Any]]
    changes: dict[str, Any] = field(default_factory=dict)
    created: bool = False
    identifiers_changed: bool = False
    released: frozenset[str] = frozenset()
    fields: tuple[str, ...] | None = None
    # Where a job's write came from, for the history row: (file, zip entry or "", line).
    origin: tuple[str, str, int | None] | None = None

    def keys(self) -> list[tuple[str, str]]:
        """(type, value) of every value the user holds: the primary ID first."""
        return [(PRIMARY_ID_TYPE, self.patron.primary_id)] + [
            (item["id_type"]["value"], item["value"]) for item in self.identifiers
        ]


def patron_snapshot(patron: Patron, *, identifiers: list[dict[str, Any]]) -> dict[str, Any]:
    """The user's values as a flat JSON-ready dict: the before/after of history rows."""
    snapshot: dict[str, Any] = {}
    for name in CORE_FIELDS:
        if name == "pin_number":
            snapshot[name] = MASK if patron.pin_hash else ""
        elif name == "password":
            snapshot[name] = MASK if patron.password_hash else ""
        else:
            value = getattr(patron, name)
            snapshot[name] = value.isoformat() if isinstance(value, dt.date) else value
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


def _require_primary_id(primary_id: str) -> None:
    if not primary_id:
        raise RuleViolation(
            "Mandatory field is missing: primary_id",
            code="MANDATORY_FIELD_MISSING",
            field="primary_id",
            alma_code="401664",
        )


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


def _forget_feed_bytes(patron: Patron, changes: dict[str, Any]) -> None:
    """After people changed a field the SIS owns, the next Synchronize must compare the feed
    with the user, not skip it as unchanged bytes: Swap All takes the field back.

    A change of protected fields alone keeps the hashes: the library owns those fields now, and
    a feed whose bytes did not change has nothing to say about them.
    """
    if any(name not in PROTECTED_CHANGE_KEYS for name in changes):
        patron.raw_hash = patron.content_hash = ""


def feed_restrict(data: PatronData) -> None:
    """Drop what a feed may not set (the engine counts records with roles before, to warn)."""
    for name in FEED_IGNORED_CORE:
        data.core.pop(name, None)
    for key in FEED_IGNORED_SEGMENTS:
        data.segments.pop(key, None)


def primary_id_base(data: PatronData) -> str:
    """What Alma makes a new user's primary ID of when a feed gives none: first.last name."""
    parts = [data.core.get("first_name") or "", data.core.get("last_name") or ""]
    text = ".".join(p for p in parts if p) or "user"
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9.]+", "", ascii_text.lower()) or "user"


def primary_id_candidates(base: str, start: int = 1) -> Iterator[str]:
    """The primary IDs to try for a new user, in order: `base`, then `base2`, `base3`, ...

    `start` skips the numbers a run already knows to be taken.
    """
    for number in itertools.count(start):
        yield base if number == 1 else f"{base}{number}"


def plan_create(
    *,
    institution: Institution,
    data: PatronData,
    codes: CodeTables,
    context: SwapContext,
    with_changes: bool = True,
) -> Plan:
    """A new user from checked data, with Alma's defaults (SPEC §3.5).

    Defaults: status ACTIVE, preferred language the code table's default (`en`), account type
    EXTERNAL, record type PUBLIC. From a feed (`context.mode` SIS) the profile's record type,
    EXTERNAL and the profile's code as external ID, every identifier External, and the values the
    SIS sent for protected fields remembered. `with_changes` off leaves the plan's changes empty:
    an Import of a million users does not keep a before/after of each.
    The caller fills in a missing primary ID from a feed (`primary_id_candidates`) beforehand.
    """
    core = data.core
    identifiers = data.identifiers or []
    protection: dict[str, Any] = {}
    if context.mode == SIS_MODE:
        feed_restrict(data)
        core["account_type"] = AccountType.EXTERNAL
        core["external_id"] = context.profile_code
        core["record_type"] = context.record_type or core.get("record_type")
        # Every segment a feed brings is External: a later Synchronize replaces it.
        identifiers = [{**item, "segment_type": SegmentType.EXTERNAL} for item in identifiers]
        for kind, items in data.segments.items():
            if kind in TYPED_SEGMENTS:
                data.segments[kind] = [{**i, "segment_type": SegmentType.EXTERNAL} for i in items]
        protection = sis_protection(data)  # what the SIS sent, before Alma's defaults
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
    patron.protection = protection
    check_identifiers_within_user(patron.primary_id, identifiers)
    changes = (
        diff_snapshots({}, patron_snapshot(patron, identifiers=identifiers)) if with_changes else {}
    )
    return Plan(patron, identifiers, changes, created=True, identifiers_changed=True)


def _keys_of(primary_id: str, identifiers: list[dict[str, Any]]) -> set[str]:
    return {identifier_key(primary_id)} | {identifier_key(i["value"]) for i in identifiers}


def _secrets(patron: Patron) -> tuple[str, str]:
    return patron.pin_hash, patron.password_hash


def _plan_change(
    patron: Patron,
    identifiers: list[dict[str, Any]],
    before: dict[str, Any],
    before_keys: set[str],
    before_secrets: tuple[str, str],
) -> Plan:
    _require_primary_id(patron.primary_id)
    check_account({"account_type": patron.account_type, "external_id": patron.external_id})
    check_identifiers_within_user(patron.primary_id, identifiers)
    after = patron_snapshot(patron, identifiers=identifiers)
    changes = diff_snapshots(before, after)
    # The snapshots mask secrets, so a new PIN or password over an old one shows no difference:
    # it is a change all the same (else it would not be written), recorded masked.
    secrets = zip(("pin_number", "password"), before_secrets, _secrets(patron), strict=True)
    for name, old, new in secrets:
        if old != new and name not in changes:
            changes[name] = {"before": before[name], "after": after[name]}
    return Plan(
        patron,
        identifiers,
        changes,
        identifiers_changed="primary_id" in changes or "user_identifier" in changes,
        released=frozenset(before_keys - _keys_of(patron.primary_id, identifiers)),
    )


def plan_swap_all(
    *,
    patron: Patron,
    current: list[dict[str, Any]],
    incoming: PatronData,
    context: SwapContext,
    actor: Actor,
) -> Plan:
    """Alma's Swap All of `incoming` over a stored user (see `swap.py`), from a feed or a PUT.

    `current` is the user's identifiers as stored. From a feed, roles and credentials are
    dropped first. When people (the API) change a protected field of an external user, it is
    marked changed by the library, so the next Synchronize keeps it; `override` lets the PUT
    replace a field that staff changed. A change of protection alone (a lifted manual mark)
    shows in the changes as `kept_by_staff`.
    """
    before = patron_snapshot(patron, identifiers=current)
    before_keys = _keys_of(patron.primary_id, current)
    before_secrets = _secrets(patron)
    kept_before = manually_changed(patron)
    before_protected = {name: protected_value(patron, name) for name in PROTECTED_FIELDS}
    if context.mode == SIS_MODE:
        feed_restrict(incoming)
    identifiers = swap_all(patron=patron, incoming=incoming, context=context, identifiers=current)
    if actor.is_manual:
        _mark_manual_changes(patron, before_protected)
    plan = _plan_change(patron, identifiers, before, before_keys, before_secrets)
    if actor.is_manual:
        _forget_feed_bytes(patron, plan.changes)
    if (kept := manually_changed(patron)) != kept_before:
        plan.changes[KEPT_BY_STAFF] = {"before": kept_before, "after": kept}
    return plan


def plan_update(
    *, patron: Patron, current: list[dict[str, Any]], data: PatronData, actor: Actor
) -> Plan:
    """Replace the fields and segment lists that `data` carries (a partial update).

    When people (staff or API) change a protected field of an external user, the field is marked
    manually changed, so the next synchronize keeps it.
    """
    if "primary_id" in data.present:
        _require_primary_id(data.core["primary_id"])
    before = patron_snapshot(patron, identifiers=current)
    before_keys = _keys_of(patron.primary_id, current)
    before_secrets = _secrets(patron)
    before_protected = {name: protected_value(patron, name) for name in PROTECTED_FIELDS}
    identifiers = data.identifiers if data.identifiers is not None else current
    _apply(patron, data)
    if actor.is_manual:
        _mark_manual_changes(patron, before_protected)
    plan = _plan_change(patron, identifiers, before, before_keys, before_secrets)
    if actor.is_manual:
        _forget_feed_bytes(patron, plan.changes)
    return plan


def plan_restore(*, patron: Patron, current: list[dict[str, Any]], name: str) -> Plan:
    """Alma's Restore of protected field `name` (see `swap.swap_restore`): its SIS value back,
    its manual mark lifted; the lifted mark shows in the changes as `kept_by_staff`."""
    before = patron_snapshot(patron, identifiers=current)
    before_keys = _keys_of(patron.primary_id, current)
    kept_before = manually_changed(patron)
    swap_restore(patron, name)
    plan = _plan_change(patron, current, before, before_keys, _secrets(patron))
    plan.changes[KEPT_BY_STAFF] = {"before": kept_before, "after": manually_changed(patron)}
    return plan
