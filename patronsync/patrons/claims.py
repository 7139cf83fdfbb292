"""Who holds an identifier: the one answer to "is this value taken?", for every writer of users.

A primary ID and every identifier share one namespace per institution, compared case-insensitively
(`identifier_key`). A value can be taken in three places, checked in this order:

- in this batch: claimed by an earlier record of the batch being planned;
- in this feed: held by a user that an earlier batch of the same feed already wrote;
- in the database: held by another user.

A claim that fails is a `RuleViolation` in Alma's words (401851), naming the user who holds the
value, never an error of the database: the caller rejects that one user and goes on. The
database's unique indexes stay as the last line of defence (see `store.patrons_write`).
"""

from __future__ import annotations

import itertools
from collections.abc import Container, Iterable, Iterator
from typing import Any

from patronsync.core.exceptions import RuleViolation
from patronsync.core.models import Institution

from .fields import PRIMARY_ID_TYPE
from .models import Patron, PatronIdentifier, identifier_key

# A claim's owner: a stored user's id, or any object standing for a user not yet stored.
Owner = Any


def duplicate_in_feed(id_type: str, value: str) -> RuleViolation:
    """Alma's words for a value a record shares with an earlier record of the same feed."""
    return RuleViolation(
        f"Identifier of type {id_type} and value {value} is already taken AcrossInstitution "
        "in this feed",
        code="DUPLICATE_IN_FEED",
        field="primary_id" if id_type == PRIMARY_ID_TYPE else "user_identifier",
        value=value,
        alma_code="401851",
    )


def already_taken(id_type: str, value: str, holder: str) -> RuleViolation:
    """Alma 401851, naming the user who holds the value."""
    primary = id_type == PRIMARY_ID_TYPE
    return RuleViolation(
        f"User with identifier {value} of type {id_type} already exists (used by user {holder})",
        code="PRIMARY_ID_TAKEN" if primary else "IDENTIFIER_TAKEN",
        field="primary_id" if primary else "user_identifier",
        value=value,
        alma_code="401851",
    )


class IdentifierClaims:
    """The holders of identifier values for one batch of writes (or one single write).

    `load` looks up, in one indexed query, who holds each of a batch's values in the database;
    `claim` then checks a user's values and takes them for it. `feed` holds the ids of the users
    an earlier batch of the same feed wrote: a value one of them holds is a duplicate "in this
    feed", as Alma words it.
    """

    def __init__(self, *, institution: Institution, feed: Container[int] = ()) -> None:
        self.institution = institution
        self.feed = feed
        self.stored: dict[str, int] = {}  # value key -> id of the user holding it
        self.looked_up: set[str] = set()
        self.batch: dict[str, Owner] = {}  # value key -> owner; None when released

    def load(self, values: Iterable[str]) -> dict[str, int]:
        """Look up the holders of `values` not looked up yet; returns {value key: user id}."""
        keys = {identifier_key(v) for v in values if v} - self.looked_up
        if keys:
            rows = PatronIdentifier.objects.filter(
                institution=self.institution, value_key__in=list(keys)
            ).values_list("value_key", "patron_id")
            self.stored.update(rows)
            self.looked_up |= keys
        return self.stored

    def holder(self, key: str) -> Owner:
        """Who holds the value key now: an owner of this batch, a stored user's id, or None."""
        if key in self.batch:
            return self.batch[key]
        return self.stored.get(key)

    def first_free(self, candidates: Iterator[str], *, block: int = 50) -> str:
        """The first of `candidates` that nobody holds, looked up `block` values a query."""
        while chunk := list(itertools.islice(candidates, block)):
            self.load(chunk)
            for value in chunk:
                if self.holder(identifier_key(value)) is None:
                    return value
        raise ValueError("no candidate is free")

    def reserve(self, keys: Iterable[tuple[str, str]], owner: Owner) -> RuleViolation | None:
        """Take a record's values as its batch is read, unless an earlier record has them.

        A value held by an earlier record of this batch, or by a user an earlier batch of this
        feed wrote, makes the record a duplicate "in this feed" (Alma loads the first and
        rejects the second). Users already in the database are the caller's to judge (a match
        for a Synchronize, a refusal for an Import); `load` their values first.
        """
        keys = list(keys)
        for id_type, value in keys:
            key = identifier_key(value)
            held = self.batch.get(key)
            stored = self.stored.get(key)
            if (held is not None and held is not owner) or (
                stored is not None and stored in self.feed
            ):
                return duplicate_in_feed(id_type, value)
        for _, value in keys:
            self.batch[identifier_key(value)] = owner
        return None

    def check(
        self, keys: Iterable[tuple[str, str]], owner: Owner, patron_id: int | None = None
    ) -> RuleViolation | None:
        """Why `owner` (stored as `patron_id`, if it is) may not hold these values, or None."""
        for id_type, value in keys:
            key = identifier_key(value)
            if key in self.batch:
                held = self.batch[key]
                if held is None:
                    continue  # its stored holder gave it up earlier in this batch
                if held is not owner:
                    return duplicate_in_feed(id_type, value)
            stored = self.stored.get(key)
            if stored is None or stored == patron_id:
                continue
            if stored in self.feed:
                return duplicate_in_feed(id_type, value)
            return already_taken(id_type, value, _primary_id_of(stored))
        return None

    def claim(
        self,
        keys: list[tuple[str, str]],
        owner: Owner,
        *,
        patron_id: int | None = None,
        released: Iterable[str] = (),
    ) -> RuleViolation | None:
        """Check and take `keys` for `owner`, giving up `released`; None when it holds them all.

        Nothing is taken when a value is held by someone else: the caller rejects the user.
        """
        self.load(value for _, value in keys)
        problem = self.check(keys, owner, patron_id)
        if problem is not None:
            return problem
        for key in released:
            self.batch[key] = None
        for _, value in keys:
            self.batch[identifier_key(value)] = owner
        return None


def _primary_id_of(holder: Owner) -> str:
    if isinstance(holder, int):
        found = Patron.objects.filter(pk=holder).values_list("primary_id", flat=True).first()
        return found or str(holder)
    return str(getattr(holder, "primary_id", holder))
