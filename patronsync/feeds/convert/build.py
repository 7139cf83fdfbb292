"""One input row (with its joined rows) to one Alma user, or the rules the row breaks."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping as AbcMapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from patronsync.almaxml.model import (
    Address,
    Code,
    Email,
    Identifier,
    Note,
    Phone,
    Statistic,
    User,
)
from patronsync.almaxml.schema import Kind
from patronsync.feeds.convert.expressions import (
    EvalError,
    Scope,
    Value,
    as_bool,
    as_date,
    as_text,
)
from patronsync.feeds.convert.mapping import (
    SEGMENT_BOOLS,
    SEGMENT_DATES,
    USER_FIELDS,
    Mapping,
    SegmentSpec,
    ValueSpec,
)

# Segment fields that hold codes (the rest are text, dates or booleans).
SEGMENT_CODE_FIELDS = frozenset(
    {"country", "id_type", "statistic_category", "category_type", "note_type"}
)

_SEGMENT_KINDS = {
    **dict.fromkeys(SEGMENT_DATES, Kind.DATE),
    **dict.fromkeys(SEGMENT_BOOLS, Kind.BOOL),
    **dict.fromkeys(SEGMENT_CODE_FIELDS, Kind.CODE),
}


@dataclass(slots=True)
class RowProblem:
    """A rule one row breaks: the reject rule, the mapping key, the columns read, a message.

    `source` is set when the fault is in a joined file's row: (file, line).
    """

    rule: str
    key: str
    message: str
    columns: list[str] = field(default_factory=list)
    source: tuple[str, int] | None = None


@dataclass(slots=True)
class Related:
    """A joined file's rows for one main row, with their lines in that file."""

    path: str
    rows: list[tuple[int, dict[str, Any]]]


class Unmapped:
    """Values not found in a value map, each counted once per row that used it.

    At most `limit` distinct values are kept by name (a map applied to a column of unique
    values must not grow without bound); the rest are counted per map in `others`.
    """

    def __init__(self, limit: int = 10_000) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()
        self.others: Counter[str] = Counter()
        self.limit = limit

    def add(self, name: str, value: str) -> None:
        """Count one row's use of `value`, not in the map `name`."""
        key = (name, value)
        if key in self.counts or len(self.counts) < self.limit:
            self.counts[key] += 1
        else:
            self.others[name] += 1


class Builder:
    """Builds users from rows with one mapping; `today` is fixed for the whole run."""

    def __init__(self, mapping: Mapping, *, today: date, unmapped: Unmapped) -> None:
        self.mapping = mapping
        self.today = today
        self.unmapped = unmapped

    def apply_map(self, name: str, value: Value) -> Value:
        """`value` through the value map `name`; counts and handles values not in it."""
        text = as_text(value)
        if text is None:
            return None
        text = text.strip()
        vmap = self.mapping.maps[name]
        key = text.casefold() if vmap.ignore_case else text
        if key in vmap.values:
            return vmap.values[key]
        self.unmapped.add(name, text)
        if vmap.unmapped == "reject":
            raise EvalError(f"value {text!r} is not in value map {name!r}", "UNMAPPED_VALUE")
        return vmap.default if vmap.unmapped == "default" else text

    def build(
        self, row: AbcMapping[str, Any], related: dict[str, Related]
    ) -> tuple[User | None, list[RowProblem]]:
        """The user for `row`, or None and every rule the row breaks."""
        scope = Scope(
            row=row,
            related={name: [r for _, r in rel.rows] for name, rel in related.items()},
            today=self.today,
            maps=self.apply_map,
        )
        problems: list[RowProblem] = []
        user = User()
        for name, spec in self.mapping.fields:
            value = self._typed(spec, USER_FIELDS[name], scope, problems, f"user.{name}")
            if value is None:
                continue
            scope.built[name] = value.value if isinstance(value, Code) else value
            setattr(user, name, value)
        for kind, entries in self.mapping.segments.items():
            for entry in entries:
                self._segments(user, kind, entry, scope, related, problems)
        if not problems:
            self._check_user(user, problems)
        return (None if problems else user), problems

    def _typed(
        self, spec: ValueSpec, kind: Kind, scope: Scope, problems: list[RowProblem],
        key: str, source: tuple[str, int] | None = None,
    ) -> Any:  # fmt: skip
        """The value of `spec` typed as `kind` (a Code for codes); None when empty or bad."""
        try:
            value = spec.evaluate(scope)
            if value is None:
                if spec.required:
                    cols = ", ".join(spec.columns)
                    why = f": {cols} is empty" if cols else ""
                    problems.append(RowProblem("REQUIRED_MISSING", key, f"is required{why}",
                                               spec.columns, source))  # fmt: skip
                return None
            if kind is Kind.DATE:
                if isinstance(value, date):
                    return value
                return as_date(value, spec.date_format)
            if kind is Kind.BOOL:
                return as_bool(value)
            text = as_text(value)
            if text is None:
                return None
            return Code(text) if kind is Kind.CODE else text
        except EvalError as exc:
            problems.append(RowProblem(exc.rule, key, exc.message, spec.columns, source))
            return None

    def _segments(
        self, user: User, kind: str, entry: SegmentSpec, scope: Scope,
        related: dict[str, Related], problems: list[RowProblem],
    ) -> None:  # fmt: skip
        """Add the segments of one mapping entry (one, or one per for_each item)."""
        items: list[tuple[dict[str, Any] | None, tuple[str, int] | None]] = [(None, None)]
        name = entry.for_each
        if name is not None:
            if name in related:
                rel = related[name]
                items = [(r, (rel.path, line)) for line, r in rel.rows]
            else:
                nested = scope.row.get(name)
                if isinstance(nested, dict):
                    nested = [nested]
                items = [(r, None) for r in nested or [] if isinstance(r, dict)]
        saved = scope.related.get(name) if name else None
        made = 0
        first_preferred = (
            name is not None and entry.preferred is not None and entry.preferred.constant is True
        )
        for item, source in items:
            if name is not None:
                scope.related[name] = item
            before = len(problems)
            values: dict[str, Any] = {}
            for target, spec in entry.values.items():
                field_kind = _SEGMENT_KINDS.get(target, Kind.TEXT)
                values[target] = self._typed(spec, field_kind, scope, problems,
                                             f"{entry.key}.{target}", source)  # fmt: skip
            if len(problems) > before:
                continue
            if not any(values.get(m) is not None for m in entry.main):
                continue
            types = []
            for spec in entry.types:
                code = self._typed(spec, Kind.CODE, scope, problems, f"{entry.key}.types", source)
                if code is not None:
                    types.append(code)
            preferred = False
            if entry.preferred is not None:
                if first_preferred:
                    preferred = made == 0
                else:
                    preferred = bool(self._typed(entry.preferred, Kind.BOOL, scope, problems,
                                                 f"{entry.key}.preferred", source))  # fmt: skip
            sms = False
            if entry.preferred_sms is not None:
                if name is not None and entry.preferred_sms.constant is True:
                    sms = made == 0
                else:
                    sms = bool(self._typed(entry.preferred_sms, Kind.BOOL, scope, problems,
                                           f"{entry.key}.preferred_sms", source))  # fmt: skip
            segment_type = entry.segment_type or self.mapping.segment_type
            _append(user, kind, values, types, preferred, sms, segment_type)
            made += 1
        if name is not None:
            if saved is None:
                scope.related.pop(name, None)
            else:
                scope.related[name] = saved
        if entry.required and made == 0:
            wanted = " or ".join(entry.main)
            cols = sorted({c for s in entry.values.values() for c in s.columns})
            problems.append(RowProblem("REQUIRED_MISSING", entry.key,
                                       f"is required, and no {wanted} is given", cols))  # fmt: skip

    def _check_user(self, user: User, problems: list[RowProblem]) -> None:
        """What Alma and the store refuse in any user: several preferred, nothing to match."""
        for kind, items, flags in (
            ("addresses", user.addresses, ("preferred",)),
            ("emails", user.emails, ("preferred",)),
            ("phones", user.phones, ("preferred", "preferred_sms")),
        ):
            for flag in flags:
                flagged = sum(1 for item in items if getattr(item, flag))
                if flagged > 1:
                    problems.append(RowProblem(
                        "TOO_MANY_PREFERRED", f"{kind}.{flag}",
                        f"{flagged} {kind} are {flag.replace('_', ' ')}; Alma takes one",
                    ))  # fmt: skip
        if not user.is_identifiable():
            cols = sorted(
                {c for n, s in self.mapping.fields if n == "primary_id" for c in s.columns}
            )
            problems.append(RowProblem(
                "USER_UNIDENTIFIED", "user.primary_id",
                "no primary ID, identifier or name: nothing to match the user on", cols,
            ))  # fmt: skip


def _append(user: User, kind: str, values: dict[str, Any], types: list[Code], preferred: bool,
            sms: bool, segment_type: str) -> None:  # fmt: skip
    """Add one segment of `kind` to `user`."""
    if kind == "identifiers":
        user.user_identifiers.append(Identifier(
            id_type=values.get("id_type"), value=values.get("value"), note=values.get("note"),
            status=values.get("status"), segment_type=segment_type,
        ))  # fmt: skip
    elif kind == "emails":
        user.emails.append(Email(
            email_address=values.get("email_address"), description=values.get("description"),
            email_types=types, preferred=preferred, segment_type=segment_type,
        ))  # fmt: skip
    elif kind == "phones":
        user.phones.append(Phone(
            phone_number=values.get("phone_number"), phone_types=types, preferred=preferred,
            preferred_sms=sms, segment_type=segment_type,
        ))  # fmt: skip
    elif kind == "addresses":
        user.addresses.append(Address(**values, address_types=types, preferred=preferred,
                                      segment_type=segment_type))  # fmt: skip
    elif kind == "statistics":
        user.user_statistics.append(Statistic(
            statistic_category=values.get("statistic_category"),
            category_type=values.get("category_type"),
            statistic_note=values.get("statistic_note"), segment_type=segment_type,
        ))  # fmt: skip
    elif kind == "notes":
        user.user_notes.append(Note(
            note_type=values.get("note_type"), note_text=values.get("note_text"),
            # rest_user.xsd requires both flags; Alma's default for a new note is false.
            user_viewable=bool(values.get("user_viewable")),
            popup_note=bool(values.get("popup_note")),
            created_by=values.get("created_by"), segment_type=segment_type,
        ))  # fmt: skip
