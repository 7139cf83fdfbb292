"""The user store's purge: removing users, or anonymising them, a batch at a time.

Purge User Records (`jobs.purge`) chooses the users; this module is how the store lets them go,
with set-based queries (a few statements a batch, whatever its size) inside the caller's
transaction. Purging is how personal data leaves patronsync, so it leaves the history too:

- `remove` (Alma's "Fully Remove"): the user, its identifiers and its history rows are deleted.
  One history row remains: `deleted`, by the purge job, naming the primary ID, with the values
  statistics keep (record type, user group, campus, expiry and purge dates) as they were.
- `anonymise` (Alma's "Keep Statistics"): the user's row stays for the statistics, without a
  name, contact, identifier, note or date of birth. Its primary ID becomes `anonymised-<id>`
  (which names no one, and no feed sends), every other identifier goes, so a new user may take
  its old IDs and barcode at once; it is made inactive and exempt (no later Synchronize,
  leavers rule or purge touches it). Its history rows are replaced by one `updated` row by the
  purge job that lists each cleared field, its old value masked.

What an anonymised row keeps, and why: record type, user group, campus, job category,
preferred language and account type (who the library served), its statistic categories
(what `user_statistic` is for), external ID (which profile loaded it), whether it was a
researcher, its expiry and purge dates and when it was created (when it was served).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.utils import timezone

from patronsync.core.bulk import bulk_update, insert_rows

from .choices import ChangeAction, UserStatus
from .models import Patron, PatronChange, PatronIdentifier
from .planning import MASK, Actor
from .search import patron_fill_search_keys
from .state import IDENTIFIER_COLUMNS, identifier_rows

ANONYMOUS_PREFIX = "anonymised-"
# The values a purge's history row keeps of a removed user: none of them names the person.
KEPT_IN_HISTORY = ("record_type", "user_group", "campus_code", "expiry_date", "purge_date")
# What an anonymised user keeps (see the module's docstring); the rest is cleared.
KEPT_FIELDS = (
    "record_type",
    "user_group",
    "campus_code",
    "job_category",
    "preferred_language",
    "account_type",
    "external_id",
    "is_researcher",
    "expiry_date",
    "purge_date",
)
CLEARED_TEXT = (
    "first_name",
    "middle_name",
    "last_name",
    "pin_hash",
    "user_title",
    "job_description",
    "gender",
    "web_site_url",
    "cataloger_level",
    "password_hash",
    "force_password_change",
    "pref_first_name",
    "pref_middle_name",
    "pref_last_name",
    "pref_name_suffix",
    "researcher",
    "raw_hash",
    "content_hash",
)
# How a cleared column is named in a user's history (the snapshot's names).
HISTORY_NAMES = {"pin_hash": "pin_number", "password_hash": "password"}
ANONYMISED_COLUMNS = (
    *CLEARED_TEXT,
    "primary_id",
    "birth_date",
    "status",
    "status_date",
    "segments",
    "protection",
    "exempt",
    "missing_runs",
    "missing_since",
    "leaver_state",
    "last_name_key",
    "first_name_key",
    "email_key",
    "updated_at",
)
PURGE_CHANGE_COLUMNS = (
    "institution_id", "patron_id", "primary_id", "action", "actor_kind", "actor_user_id",
    "actor_label", "job_id", "changes", "created_at",
)  # fmt: skip


def anonymous_primary_id(patron_id: int) -> str:
    """The primary ID of an anonymised user: it names no one, and is unique by the row's id."""
    return f"{ANONYMOUS_PREFIX}{patron_id}"


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


def _change_row(
    patron: Patron | dict[str, Any],
    *,
    patron_id: int | None,
    primary_id: str,
    action: str,
    actor: Actor,
    changes: dict[str, Any],
    now: dt.datetime,
) -> tuple[Any, ...]:
    institution_id = patron["institution_id"] if isinstance(patron, dict) else patron.institution_id
    user_id = actor.user.pk if actor.user is not None else None
    return (
        institution_id, patron_id, primary_id, action, str(actor.kind), user_id, actor.label,
        actor.job_id, changes, now,
    )  # fmt: skip


def patrons_remove(*, patron_ids: Sequence[int], actor: Actor) -> list[dict[str, Any]]:
    """Delete the users `patron_ids`, their identifiers and their history; write one `deleted`
    history row each (see the module's docstring). Returns the removed users' kept values
    (`id`, `primary_id` and KEPT_IN_HISTORY), in id order."""
    if not patron_ids:
        return []
    rows = list(
        Patron.objects.filter(pk__in=patron_ids)
        .order_by("pk")
        .values("id", "institution_id", "primary_id", *KEPT_IN_HISTORY)
    )
    ids = [row["id"] for row in rows]
    PatronChange.objects.filter(patron_id__in=ids).delete()
    PatronIdentifier.objects.filter(patron_id__in=ids).delete()
    Patron.objects.filter(pk__in=ids).delete()
    now = timezone.now()
    insert_rows(
        PatronChange,
        PURGE_CHANGE_COLUMNS,
        [
            _change_row(
                row,
                patron_id=None,
                primary_id=row["primary_id"],
                action=ChangeAction.DELETED,
                actor=actor,
                changes={
                    name: {"before": _json_value(row[name]), "after": None}
                    for name in KEPT_IN_HISTORY
                    if row[name] not in (None, "")
                },
                now=now,
            )
            for row in rows
        ],
    )
    return rows


def _statistics_kept(segments: dict[str, Any]) -> dict[str, Any]:
    """A user's segments as an anonymised row keeps them: its statistic categories, without
    their free-text notes."""
    kept = [
        {key: value for key, value in item.items() if key != "statistic_note"}
        for item in segments.get("user_statistic") or []
        if isinstance(item, dict)
    ]
    return {"user_statistic": kept} if kept else {}


def patrons_anonymise(*, patron_ids: Sequence[int], actor: Actor) -> list[Patron]:
    """Anonymise the users `patron_ids` (see the module's docstring): their personal data
    cleared, their identifiers deleted, their history replaced by one row each naming the
    cleared fields. Returns the anonymised users, in id order."""
    if not patron_ids:
        return []
    patrons = list(Patron.objects.filter(pk__in=patron_ids).order_by("pk"))
    today = timezone.localdate()
    now = timezone.now()
    history = []
    for patron in patrons:
        changes: dict[str, Any] = {}
        for name in CLEARED_TEXT:
            if getattr(patron, name) and name not in ("raw_hash", "content_hash"):
                changes[HISTORY_NAMES.get(name, name)] = {"before": MASK, "after": ""}
            setattr(patron, name, "")
        if patron.birth_date is not None:
            changes["birth_date"] = {"before": MASK, "after": None}
        patron.birth_date = None
        new_id = anonymous_primary_id(patron.pk)
        changes["primary_id"] = {"before": MASK, "after": new_id}
        kept = _statistics_kept(patron.segments)
        for key in sorted(set(patron.segments) - set(kept)):
            if patron.segments[key]:
                changes[key] = {"before": MASK, "after": []}
        changes["user_identifier"] = {"before": MASK, "after": []}
        if patron.status != UserStatus.INACTIVE:
            changes["status"] = {"before": patron.status, "after": UserStatus.INACTIVE}
        patron.primary_id = new_id
        patron.segments = kept
        patron.status = UserStatus.INACTIVE
        patron.status_date = today
        patron.protection = {}
        patron.exempt = True
        patron.missing_runs = 0
        patron.missing_since = None
        patron.leaver_state = ""
        patron_fill_search_keys(patron)
        history.append(
            _change_row(
                patron,
                patron_id=patron.pk,
                primary_id=new_id,
                action=ChangeAction.UPDATED,
                actor=actor,
                changes={"anonymised": {"before": False, "after": True}, **changes},
                now=now,
            )
        )
    ids = [patron.pk for patron in patrons]
    PatronChange.objects.filter(patron_id__in=ids).delete()
    PatronIdentifier.objects.filter(patron_id__in=ids).delete()
    bulk_update(Patron, patrons, ANONYMISED_COLUMNS, now=now)
    insert_rows(
        PatronIdentifier,
        IDENTIFIER_COLUMNS,
        [row for patron in patrons for row in identifier_rows(patron, [])],
    )
    insert_rows(PatronChange, PURGE_CHANGE_COLUMNS, history)
    return patrons
