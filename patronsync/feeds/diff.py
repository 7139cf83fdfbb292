"""Compare two feeds: the users added, removed and changed (field by field), streaming.

OLD's users are indexed by primary ID (compared as Alma does, case-insensitively) in a
temporary SQLite file (`feeds.index`), each with its canonical fields: the text that
`almaxml.hashing.content_hash` hashes, what a Synchronize itself compares, so a user only
reformatted, or with its segments in another order, is not "changed". NEW is then read a user
at a time and looked up; the OLD users never found were removed. Memory stays flat whatever
the feeds' sizes.

A feed much smaller than the last one is the classic accident of a nightly export (a query that
returned half the students): `shrunk` says when NEW has fewer than `min_ratio` of OLD's users,
as the guard of patronsync's Synchronize does.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from patronsync.almaxml.errors import Problem
from patronsync.almaxml.hashing import canonical_form
from patronsync.almaxml.jsonform import user_to_json
from patronsync.almaxml.reader import ParsedUser, iter_users
from patronsync.feeds.index import UserIndex
from patronsync.feeds.pack import INPUT_LIMITS
from patronsync.patrons.fields import CORE_FIELDS

DEFAULT_MIN_RATIO = 0.8
FeedPath = str | os.PathLike[str]

ADDED, REMOVED, CHANGED = "added", "removed", "changed"
# The user fields that hold a credential (password, SIP2 PIN): a difference in them is reported
# as changed, never with its values, in the text and the JSON output alike.
SECRET_FIELDS = frozenset(name for name, spec in CORE_FIELDS.items() if spec.kind == "secret")


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One difference of a changed user: a field's old and new value, or, in a list of
    segments (addresses, emails, identifiers...), a segment removed (new is None) or added
    (old is None). A secret field (`SECRET_FIELDS`) changed carries no values: `secret` is set
    and old and new are None."""

    field: str
    old: Any
    new: Any
    secret: bool = False

    def as_dict(self) -> dict[str, Any]:
        if self.secret:
            return {"field": self.field, "secret": True, "old": None, "new": None}
        return {"field": self.field, "old": self.old, "new": self.new}


@dataclass(frozen=True, slots=True)
class UserChange:
    """A user added, removed or changed; `location` is where it is in NEW (in OLD when
    removed), `old_location` where a changed user was in OLD."""

    kind: str
    primary_id: str
    location: str
    old_location: str = ""
    changes: tuple[FieldChange, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "change": self.kind,
            "primary_id": self.primary_id,
            "location": self.location,
        }
        if self.kind == CHANGED:
            data["old_location"] = self.old_location
            data["changes"] = [c.as_dict() for c in self.changes]
        return data


@dataclass(slots=True)
class DiffSummary:
    """The counts of a comparison (always complete) and the problems met reading the feeds."""

    old_users: int = 0
    new_users: int = 0
    added: int = 0
    removed: int = 0
    changed: int = 0
    unchanged: int = 0
    min_ratio: float = DEFAULT_MIN_RATIO
    problems: list[Problem] = field(default_factory=list)
    file_errors: int = 0

    @property
    def shrunk(self) -> bool:
        """NEW holds fewer than `min_ratio` of OLD's users."""
        return self.old_users > 0 and self.new_users < self.min_ratio * self.old_users

    @property
    def ratio(self) -> float:
        return self.new_users / self.old_users if self.old_users else 1.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "old_users": self.old_users,
            "new_users": self.new_users,
            "added": self.added,
            "removed": self.removed,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "ratio": round(self.ratio, 4),
            "min_ratio": self.min_ratio,
            "shrunk": self.shrunk,
            "problems": len(self.problems),
        }


def _collapsed(value: Any) -> Any:
    """A code (``{"value": "GRAD"}``) as its value, and so on inside segments."""
    if isinstance(value, dict):
        if set(value) == {"value"}:
            return value["value"]
        return {k: _collapsed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_collapsed(v) for v in value]
    return value


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def field_changes(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[FieldChange]:
    """The differences between two canonical forms, by field path (``contact_info.email``).

    A list of one segment on each side is compared field by field (``contact_info.address.city``);
    other lists as multisets: the segments only in OLD are removed, those only in NEW added.
    A secret field (a password, a PIN) is reported as changed without its values.
    """
    changes: list[FieldChange] = []
    for name in sorted(set(old) | set(new), key=lambda n: (n not in old, n)):
        path = f"{prefix}{name}"
        before, after = _collapsed(old.get(name)), _collapsed(new.get(name))
        if _key(before) == _key(after):
            continue
        if not prefix and name in SECRET_FIELDS:
            changes.append(FieldChange(path, None, None, secret=True))
        elif isinstance(before, dict) and isinstance(after, dict):
            changes += field_changes(before, after, f"{path}.")
        elif isinstance(before, list) or isinstance(after, list):
            olds, news = before or [], after or []
            if not isinstance(olds, list) or not isinstance(news, list):
                changes.append(FieldChange(path, before, after))
            elif len(olds) == len(news) == 1 and isinstance(olds[0], dict):
                if isinstance(news[0], dict):
                    changes += field_changes(olds[0], news[0], f"{path}.")
                else:
                    changes.append(FieldChange(path, olds[0], news[0]))
            else:
                news_left = Counter(_key(v) for v in news)
                for item in olds:
                    if news_left[_key(item)]:
                        news_left[_key(item)] -= 1
                    else:
                        changes.append(FieldChange(path, item, None))
                olds_left = Counter(_key(v) for v in olds)
                for item in news:
                    if olds_left[_key(item)]:
                        olds_left[_key(item)] -= 1
                    else:
                        changes.append(FieldChange(path, None, item))
        else:
            changes.append(FieldChange(path, before, after))
    return changes


def _read(paths: Sequence[FeedPath], summary: DiffSummary) -> Iterator[tuple[str, ParsedUser]]:
    """(primary ID, user) of each user of a feed (its files in turn) that has a primary ID."""
    for path in paths:
        yield from _read_file(path, summary)


def _read_file(path: FeedPath, summary: DiffSummary) -> Iterator[tuple[str, ParsedUser]]:
    reader = iter_users(path, name=os.fspath(path), limits=INPUT_LIMITS)
    for parsed in reader:
        primary_id = parsed.user.primary_id
        if not primary_id:
            summary.problems.append(
                Problem("warning", "MATCH_ID_MISSING", "user without a primary ID: not compared",
                        parsed.position.file, parsed.position.entry, parsed.position.line)
            )  # fmt: skip
            continue
        yield primary_id, parsed
    summary.problems.extend(reader.problems)
    summary.file_errors += sum(1 for p in reader.problems if p.is_error)


def _canonical_text(parsed: ParsedUser) -> str:
    """The text `content_hash` hashes: equal texts are equal users, as a Synchronize sees them."""
    form = canonical_form(parsed.user, user_to_json(parsed.user))
    return json.dumps(form, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _duplicate(parsed: ParsedUser, primary_id: str, earlier: str, feed: str) -> Problem:
    where = parsed.position
    return Problem(
        "warning", "DUPLICATE_IN_FEED",
        f"primary ID given again in {feed} (first at {earlier}); only the first is compared",
        where.file, where.entry, where.line, primary_id,
    )  # fmt: skip


def feed_diff(
    old: Sequence[FeedPath],
    new: Sequence[FeedPath],
    *,
    summary: DiffSummary | None = None,
) -> Iterator[UserChange]:
    """Compare the feed of the files `old` with that of `new` (each an XML file or a zip).

    Yield each user added or changed in NEW (in NEW's order), then each removed (in OLD's
    order). The counts and problems fill `summary` (pass one to read them once the iterator is
    exhausted); see the module."""
    summary = summary if summary is not None else DiffSummary()
    with UserIndex() as index:
        for primary_id, parsed in _read(old, summary):
            summary.old_users += 1
            earlier = index.add(primary_id, str(parsed.position), fields=_canonical_text(parsed))
            if earlier is not None:
                summary.old_users -= 1
                summary.problems.append(_duplicate(parsed, primary_id, earlier, "OLD"))
        with UserIndex() as taken:  # NEW's primary IDs, for its duplicates
            for primary_id, parsed in _read(new, summary):
                location = str(parsed.position)
                earlier = taken.add(primary_id, location)
                if earlier is not None:
                    summary.problems.append(_duplicate(parsed, primary_id, earlier, "NEW"))
                    continue
                summary.new_users += 1
                found = index.take(primary_id)
                if found is None:
                    summary.added += 1
                    yield UserChange(ADDED, primary_id, location)
                    continue
                _, old_location, _, old_fields, _ = found
                fields = _canonical_text(parsed)
                if fields == old_fields:  # equal content hashes (`almaxml.hashing`)
                    summary.unchanged += 1
                    continue
                summary.changed += 1
                changes = tuple(field_changes(json.loads(old_fields), json.loads(fields)))
                yield UserChange(CHANGED, primary_id, location, old_location, changes)
        for primary_id, location in index.unseen():
            summary.removed += 1
            yield UserChange(REMOVED, primary_id, location)
