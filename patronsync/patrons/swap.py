"""Alma's "Swap All" update of one user, shared by the synchronize job and the API's PUT.

`swap_all` changes a `Patron` in memory and returns the identifiers it should end with; it never
touches the database, so the sync engine can apply it to thousands of users and write them in
bulk, while `services.patron_swap_all` applies it to one user with history; both plan it through
`planning.plan_swap_all`.

The rules (SPEC §3.3 for a synchronize, §5.3 for the API):

- core fields are replaced; a field the incoming record lacks is emptied;
- protected fields keep the library's value when staff changed them, or when the incoming record
  leaves them empty; a feed that repeats the last value the SIS sent before the manual change
  lifts the protection and the field follows the SIS again. The API's `override` replaces them;
- a synchronize replaces the External segments and keeps the Internal ones (every incoming
  segment is External); the API replaces whole lists and honours the incoming `segment_type`;
- a profile's field ownership narrows a synchronize: a library-owned field or segment type is
  never touched, a preserve-if-empty one is set only when the feed sends a value (a user created
  from a feed takes the feed's values once, owned or not). Identifiers are always the SIS's;
- with sticky protection (a profile setting) a library edit of a protected field holds until
  staff press Restore, whatever the feed sends; the SIS's latest value is remembered for Restore;
- roles are never touched by a synchronize, and kept by the API when the request has none;
- a synchronize sets the record type and external ID from the profile, and the account type to
  EXTERNAL.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from .choices import AccountType, SegmentType, UserStatus
from .fields import (
    CONTACT_SEGMENTS,
    CORE_FIELDS,
    OWNER_LIBRARY,
    OWNER_PRESERVE_IF_EMPTY,
    PROTECTED_FIELDS,
    PROTECTED_SEGMENT_KEYS,
)
from .models import Patron
from .rules import PatronData, check_preferred
from .state import set_core

SIS_MODE = "sis"
API_MODE = "api"
# A profile's protection modes (profiles.choices.ProtectionMode).
PROTECTION_ALMA = "alma"
PROTECTION_STICKY = "sticky"

# Fields a swap never takes from the incoming record: output-only ones, and the ones a
# synchronize sets from the profile.
NOT_SWAPPED = {"status_date", "record_type", "account_type", "external_id"}
# Internal users' credentials: ignored by a synchronize, kept by the API when empty.
CREDENTIALS = {"password", "force_password_change"}
SWAPPED_SEGMENTS = ("address", "email", "phone", "user_note", "user_block", "user_statistic")


@dataclass(frozen=True, slots=True)
class SwapContext:
    """Where an incoming record comes from: a synchronize (with its profile) or the API."""

    mode: str = SIS_MODE
    profile_code: str = ""
    record_type: str = ""
    override: frozenset[str] = frozenset()
    # A synchronize's field ownership (names of `fields.OWNABLE_FIELDS`): what the feed never
    # touches, and what it sets only when it sends a value. Empty: Swap All of everything.
    library_owned: frozenset[str] = frozenset()
    preserve_if_empty: frozenset[str] = frozenset()
    # Sticky protection: a library edit of a protected field holds until Restore.
    sticky: bool = False

    @classmethod
    def for_profile(
        cls,
        *,
        profile_code: str,
        record_type: str,
        ownership: Mapping[str, str] | None = None,
        protection: str = PROTECTION_ALMA,
    ) -> SwapContext:
        """A synchronize's context from a profile's settings (as a job stored them)."""
        owners = ownership or {}
        return cls(
            profile_code=profile_code,
            record_type=record_type,
            library_owned=frozenset(k for k, v in owners.items() if v == OWNER_LIBRARY),
            preserve_if_empty=frozenset(
                k for k, v in owners.items() if v == OWNER_PRESERVE_IF_EMPTY
            ),
            sticky=protection == PROTECTION_STICKY,
        )

    def keeps(self, name: str, value: Any) -> bool:
        """Whether a synchronize leaves `name` as it is: library-owned, or preserve-if-empty and
        the feed sends nothing (`value` empty)."""
        if name in self.library_owned:
            return True
        return name in self.preserve_if_empty and value in (None, "", [])


def sis_fingerprint(name: str, value: Any) -> Any:
    """The form in which the last SIS value of a protected field is remembered.

    The PIN is kept as a keyed hash, never in clear; the others as they are.
    """
    if name != "pin_number" or not value:
        return value
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, str(value).encode(), hashlib.sha256).hexdigest()[:32]


def _incoming_protected(name: str, incoming: PatronData) -> Any:
    if name in PROTECTED_SEGMENT_KEYS:
        return incoming.segments.get(PROTECTED_SEGMENT_KEYS[name]) or None
    return incoming.core.get(name) or None


def _apply_protected(patron: Patron, name: str, value: Any) -> None:
    if name in PROTECTED_SEGMENT_KEYS:
        segments = dict(patron.segments)
        segments[PROTECTED_SEGMENT_KEYS[name]] = value or []
        if not value:
            segments.pop(PROTECTED_SEGMENT_KEYS[name])
        patron.segments = segments
    else:
        set_core(patron, name, value)


def _swap_protected(patron: Patron, incoming: PatronData, context: SwapContext) -> None:
    protection = dict(patron.protection)
    external = patron.account_type == AccountType.EXTERNAL
    library_owned = context.library_owned if context.mode == SIS_MODE else frozenset()
    for name in PROTECTED_FIELDS:
        if name in library_owned:
            continue  # the feed never touches it, nor what is remembered of it
        value = _incoming_protected(name, incoming)
        state = dict(protection.get(name) or {})
        if context.mode == API_MODE:
            if name in context.override or not external:
                _apply_protected(patron, name, value)
                state.pop("manual", None)
            elif value is not None and not state.get("manual"):
                _apply_protected(patron, name, value)
        else:
            if value is None:
                continue  # an empty incoming value never removes a protected field
            fingerprint = sis_fingerprint(name, value)
            was_manual = bool(state.get("manual"))
            if was_manual and context.sticky:
                # Sticky: the library's value holds until Restore, which then gives the field
                # the SIS's latest value.
                state["sis"] = fingerprint
            elif was_manual and fingerprint != state.get("sis"):
                continue  # the library's value stands
            else:
                if was_manual:
                    state["manual"] = False  # the SIS repeats its last value: follow it again
                # A PIN is stored salted: re-hashing the same PIN would look like a change.
                same_pin = (
                    name == "pin_number" and fingerprint == state.get("sis") and patron.pin_hash
                )
                if was_manual or not same_pin:
                    _apply_protected(patron, name, value)
                state["sis"] = fingerprint
        if state:
            protection[name] = state
        else:
            protection.pop(name, None)
    patron.protection = protection


def swap_restore(patron: Patron, name: str) -> None:
    """Alma's Restore of a protected field that staff changed, in memory: the field takes the
    last value the SIS sent and follows the SIS again.

    The PIN's last SIS value is kept only as a fingerprint: the PIN stays until the next
    Synchronize sets the SIS's one (its feed record is compared again, not skipped as unchanged
    bytes). A field the SIS never sent keeps its value and follows the SIS from the next feed
    that has one.
    """
    protection = dict(patron.protection)
    state = dict(protection.get(name) or {})
    state.pop("manual", None)
    if name == "pin_number":
        state.pop("sis", None)
        patron.raw_hash = patron.content_hash = ""
    elif state.get("sis") is not None:
        _apply_protected(patron, name, state["sis"])
    if state:
        protection[name] = state
    else:
        protection.pop(name, None)
    patron.protection = protection


def sis_protection(incoming: PatronData) -> dict[str, Any]:
    """The protection state of a user created from a feed: the value the SIS sent for each
    protected field, so that a later manual change is lifted when the SIS repeats it."""
    return {
        name: {"sis": sis_fingerprint(name, value)}
        for name in PROTECTED_FIELDS
        if (value := _incoming_protected(name, incoming)) is not None
    }


def manually_changed(patron: Patron) -> list[str]:
    """The protected fields a synchronize keeps because people changed them."""
    return sorted(name for name in PROTECTED_FIELDS if patron.is_manually_changed(name))


def _merge_segments(
    existing: list[dict[str, Any]], incoming: list[dict[str, Any]], context: SwapContext
) -> list[dict[str, Any]]:
    if context.mode == API_MODE:
        return incoming
    kept = [item for item in existing if item.get("segment_type") == SegmentType.INTERNAL]
    new = [{**item, "segment_type": SegmentType.EXTERNAL} for item in incoming]
    if any(item.get("preferred") for item in new):
        # The SIS's preferred segment wins; a kept internal one gives up its flag.
        kept = [{**item, "preferred": False} if item.get("preferred") else item for item in kept]
    if any(item.get("preferred_sms") for item in new):
        kept = [
            {**item, "preferred_sms": False} if item.get("preferred_sms") else item for item in kept
        ]
    return kept + new


def swap_all(
    *,
    patron: Patron,
    incoming: PatronData,
    context: SwapContext,
    identifiers: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Apply a Swap All of `incoming` to `patron` in memory; return its new identifier list.

    `identifiers` are the user's identifiers as stored (not the primary ID). The caller
    (`planning.plan_swap_all`) checks the result and the store saves it.
    """
    # Field ownership narrows a synchronize only; without any, this costs one test per user.
    owned = context.mode == SIS_MODE and bool(context.library_owned or context.preserve_if_empty)
    for name, spec in CORE_FIELDS.items():
        if name in NOT_SWAPPED or name in PROTECTED_FIELDS:
            continue
        if name in CREDENTIALS:
            if context.mode == API_MODE and patron.account_type == AccountType.INTERNAL:
                set_core(patron, name, incoming.core.get(name))
            continue
        if name == "primary_id":
            if incoming.core.get("primary_id"):
                patron.primary_id = incoming.core["primary_id"]
            continue
        value = incoming.core.get(name)
        if owned and context.keeps(name, value):
            continue
        if name == "status":
            value = value or UserStatus.ACTIVE
        set_core(patron, name, value if value not in (None, "") else spec_empty(spec.kind))
    _swap_protected(patron, incoming, context)

    segments = dict(patron.segments)
    for kind in SWAPPED_SEGMENTS:
        if owned and context.keeps(kind, incoming.segments.get(kind)):
            continue
        merged = _merge_segments(segments.get(kind, []), incoming.segments.get(kind, []), context)
        if merged:
            segments[kind] = merged
        else:
            segments.pop(kind, None)
    if context.mode == API_MODE and incoming.segments.get("user_role"):
        segments["user_role"] = incoming.segments["user_role"]
    patron.segments = segments
    check_preferred({kind: segments.get(kind, []) for kind in CONTACT_SEGMENTS})
    if not (owned and context.keeps("researcher", incoming.researcher)):
        patron.researcher = incoming.researcher or ""

    if context.mode == SIS_MODE:
        patron.account_type = AccountType.EXTERNAL
        patron.external_id = context.profile_code
        if context.record_type:
            patron.record_type = context.record_type
    elif incoming.core.get("record_type"):
        patron.record_type = incoming.core["record_type"]

    return _merge_segments(identifiers, incoming.identifiers or [], context)


def spec_empty(kind: str) -> Any:
    """The value a core field of this kind takes when the incoming record lacks it."""
    if kind == "date":
        return None
    if kind == "bool":
        return False
    return ""
