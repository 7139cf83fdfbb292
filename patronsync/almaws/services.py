"""What each API call does: find the key's institution, call the user store, shape the answer.

Every write goes through the patrons services, so the API leaves the same history as the pages
and the sync engine; the actor is "API key <name>".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from django.db import transaction

from patronsync.accounts.models import ApiKey
from patronsync.accounts.selectors import api_key_get_active
from patronsync.core.choices import CodeTableName
from patronsync.core.exceptions import RuleViolation
from patronsync.core.models import CodeTableEntry, Institution
from patronsync.core.selectors import CodeTables, code_tables_for_institution
from patronsync.patrons.choices import AccountType
from patronsync.patrons.fields import PROTECTED_FIELDS
from patronsync.patrons.models import Patron
from patronsync.patrons.rules import code_of
from patronsync.patrons.selectors import ALL_UNIQUE, patron_get_by_identifier, patron_to_json
from patronsync.patrons.services import (
    Actor,
    patron_create,
    patron_delete,
    patron_swap_all,
    patron_update,
)
from patronsync.patrons.swap import API_MODE, SwapContext

from .errors import AlmaError
from .ratelimit import api_key_rate_take
from .search import patron_search
from .thresholds import REMAINING_HEADER, api_call_count

BRIEF_LIST_FIELDS = (
    "primary_id",
    "first_name",
    "middle_name",
    "last_name",
    "pref_first_name",
    "pref_middle_name",
    "pref_last_name",
    "full_name",
    "user_group",
    "status",
    "link",
)
BRIEF_VIEW_DROPS = ("address", "phone")
BRIEF_VIEW_KEEPS = ("user_identifier", "user_statistic")
EXPANDABLE = ("loans", "requests", "fees")
MIN_PASSWORD_LENGTH = 8


@dataclass(frozen=True, slots=True)
class Caller:
    """An authorized call: its key, and the calls its institution has left today."""

    api_key: ApiKey
    remaining: int

    @property
    def institution(self) -> Institution:
        return self.api_key.institution

    @property
    def actor(self) -> Actor:
        return Actor.api(f"API key {self.api_key.name}")


def api_call_authorize(*, key: str, write: bool) -> Caller:
    """Check the key (known, not revoked, allowed to write when `write`) and count the call.

    Raises UNAUTHORIZED (401) for a bad key, a key without `users:read` on a read or without
    `users:write` on a write. The call then counts
    against the institution's thresholds (429 PER_SECOND_THRESHOLD or DAILY_THRESHOLD), and
    against the key's own limits, patronsync's extra (429 PER_THRESHOLD with Retry-After).
    Every answer after the key is known carries the institution's daily remainder.
    """
    api_key = api_key_get_active(key=key.strip())
    if api_key is None or not api_key.allows_users(write=write):  # users:read / users:write
        raise AlmaError.unauthorized()
    remaining = api_call_count(institution=api_key.institution)
    check = api_key_rate_take(api_key=api_key)  # token buckets: no burst at a window's edge
    if not check.allowed:
        raise AlmaError(
            "PER_THRESHOLD",
            f"API request threshold of this key reached; retry in {check.retry_after} seconds.",
            status=429,
            headers={"Retry-After": str(check.retry_after), REMAINING_HEADER: str(remaining)},
        )
    return Caller(api_key=api_key, remaining=remaining)


def _user_json(
    patron: Patron, *, codes: CodeTables, base_url: str, expand: str = ""
) -> dict[str, Any]:
    data = patron_to_json(patron, codes=codes)
    data["link"] = base_url + quote(patron.primary_id, safe="")
    for name in expand.split(","):
        if name.strip() in EXPANDABLE:  # patronsync keeps no loans, requests or fees
            data[name.strip()] = {"value": 0, "link": f"{data['link']}/{name.strip()}"}
    return data


def _brief_list_item(data: dict[str, Any]) -> dict[str, Any]:
    return {name: data[name] for name in BRIEF_LIST_FIELDS if name in data}


def _find(*, institution: Institution, user_id: str, user_id_type: str) -> Patron:
    patron = None
    # No identifier holds a NUL character (PostgreSQL text cannot even be asked about one).
    if "\x00" not in user_id + user_id_type:
        patron = patron_get_by_identifier(
            institution=institution, id_type=user_id_type or ALL_UNIQUE, value=user_id
        )
    if patron is None:
        raise AlmaError.user_not_found(user_id=user_id, user_id_type=user_id_type or ALL_UNIQUE)
    return patron


def user_list(
    *,
    institution: Institution,
    q: str,
    order_by: str,
    limit: int,
    offset: int,
    expand: str,
    base_url: str,
    modify_date_from: str = "",
) -> tuple[list[dict[str, Any]], int]:
    """A page of users matching `q` or modified since `modify_date_from` (brief unless
    `expand=full`), and the total count."""
    if not 0 <= limit <= 100:
        raise AlmaError("402119", "General error: limit must be between 0 and 100.")
    if offset < 0:
        raise AlmaError("402119", "General error: offset must not be negative.")
    patrons = patron_search(
        institution=institution, q=q, order_by=order_by, modify_date_from=modify_date_from
    )
    total = patrons.count()
    page = list(patrons.prefetch_related("identifiers")[offset : offset + limit])
    codes = code_tables_for_institution(institution=institution)
    users = [_user_json(p, codes=codes, base_url=base_url) for p in page]
    if expand.strip() != "full":
        users = [_brief_list_item(u) for u in users]
    return users, total


def user_get(
    *,
    institution: Institution,
    user_id: str,
    user_id_type: str,
    view: str,
    expand: str,
    base_url: str,
) -> dict[str, Any]:
    """One user: `full` (default) or `brief` (core fields, emails, identifiers, statistics)."""
    patron = _find(institution=institution, user_id=user_id, user_id_type=user_id_type)
    codes = code_tables_for_institution(institution=institution)
    data = _user_json(patron, codes=codes, base_url=base_url, expand=expand)
    if view == "brief":
        contact = data.get("contact_info") or {}
        data["contact_info"] = {"email": contact.get("email", [])}
        for key in ("user_note", "user_block", "user_role", "rs_library", "library_notice"):
            data.pop(key, None)
    return data


def _check_incoming(data: dict[str, Any]) -> None:
    """Alma's answers the store does not give itself: account type 401857, password 500038."""
    account_type = code_of(data.get("account_type"))
    if account_type is not None and account_type not in AccountType.values:
        raise AlmaError(
            "401857",
            f"Account type '{account_type}' is illegal; it must be INTERNAL or EXTERNAL.",
        )
    password = data.get("password") or ""
    if password and len(str(password)) < MIN_PASSWORD_LENGTH:
        raise AlmaError(
            "500038",
            "New password must be at least 8 characters long and must not include the "
            "user-name or any commonly used password.",
        )


def user_create(*, caller: Caller, data: dict[str, Any], base_url: str) -> dict[str, Any]:
    """Create a user from its Alma JSON form and return it as stored."""
    _check_incoming(data)
    codes = code_tables_for_institution(institution=caller.institution)
    try:
        patron = patron_create(
            institution=caller.institution, data=data, actor=caller.actor, codes=codes
        )
    except RuleViolation as violation:
        raise AlmaError.from_rule(violation, default_code="401658") from violation
    return _user_json(patron, codes=codes, base_url=base_url)


def _account_change(patron: Patron, data: dict[str, Any]) -> dict[str, Any] | None:
    """Check the account type and external ID of a PUT; the change to make first, if any.

    Internal to external is allowed (with an external ID); external to internal is not
    (401859); the external ID of an external user cannot change (401858).
    """
    wanted = code_of(data.get("account_type")) or patron.account_type
    external_id = str(data.get("external_id") or "").strip()
    if patron.account_type == AccountType.EXTERNAL:
        if wanted == AccountType.INTERNAL:
            raise AlmaError(
                "401859", "Action currently not supported: an external user cannot become internal."
            )
        if external_id and external_id != patron.external_id:
            raise AlmaError(
                "401858",
                "The external id in DB does not fit the given value in xml - "
                "external id cannot be updated",
            )
        return None
    if wanted == AccountType.INTERNAL:
        if external_id:
            raise AlmaError(
                "401858",
                "The external id in DB does not fit the given value in xml - "
                "external id cannot be updated",
            )
        return None
    if not external_id:
        raise AlmaError("401854", "External Id must be given for external user")
    return {"account_type": AccountType.EXTERNAL, "external_id": external_id}


@transaction.atomic
def user_update(
    *,
    caller: Caller,
    user_id: str,
    user_id_type: str,
    data: dict[str, Any],
    override: str,
    base_url: str,
) -> dict[str, Any]:
    """PUT: Swap All of the stored user with `data` (SPEC §5.3) and return the result.

    `override` names protected fields to replace even when staff changed them. An internal user
    becoming external is converted first (its own history row), then swapped.
    """
    patron = _find(institution=caller.institution, user_id=user_id, user_id_type=user_id_type)
    _check_incoming(data)
    change = _account_change(patron, data)
    codes = code_tables_for_institution(institution=caller.institution)
    fields = frozenset(name.strip() for name in override.split(",")) & set(PROTECTED_FIELDS)
    try:
        if change:
            patron_update(patron=patron, data=change, actor=caller.actor, codes=codes)
        patron_swap_all(
            patron=patron,
            data=data,
            actor=caller.actor,
            context=SwapContext(mode=API_MODE, override=fields),
            codes=codes,
        )
    except RuleViolation as violation:
        raise AlmaError.from_rule(violation, default_code="401860") from violation
    patron.refresh_from_db()
    return _user_json(patron, codes=codes, base_url=base_url)


def user_delete(*, caller: Caller, user_id: str, user_id_type: str) -> None:
    """Delete a user; the history keeps a 'deleted' row naming the key."""
    patron = _find(institution=caller.institution, user_id=user_id, user_id_type=user_id_type)
    patron_delete(patron=patron, actor=caller.actor)


def code_table_get(*, institution: Institution, name: str) -> dict[str, Any]:
    """One of the institution's code tables in Alma's shape: name, description, rows."""
    if name not in CodeTableName.values:
        raise AlmaError("402119", f"General error: code table {name} was not found.")
    rows = CodeTableEntry.objects.filter(institution=institution, table=name)
    return {
        "name": name,
        "description": CodeTableName(name).label,
        "row": [
            {
                "code": row.code,
                "description": row.description,
                "default": row.is_default,
                "enabled": row.enabled,
            }
            for row in rows
        ],
    }
