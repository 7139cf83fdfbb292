"""One batch of incoming users: match each record, decide its outcome, apply Swap All or create.

A batch is a few thousand users read from the feed in order. Matching and the unchanged check
use one indexed query each; only users whose bytes changed are parsed (hash first, parse what
changed). The decisions change `Patron` objects in memory; `writer.write_batch` commits them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, cast

from patronsync.almaxml import RawUser
from patronsync.almaxml.hashing import content_hash
from patronsync.almaxml.jsonform import user_to_json
from patronsync.core.exceptions import RuleViolation
from patronsync.core.selectors import CodeTables
from patronsync.patrons.fields import PRIMARY_ID_TYPE
from patronsync.patrons.models import Patron, PatronIdentifier, identifier_key
from patronsync.patrons.rules import (
    PatronData,
    check_identifiers_within_user,
    patron_data_from_json,
)
from patronsync.patrons.selectors import ALL_UNIQUE, patron_ids_by_match_values
from patronsync.patrons.services import diff_snapshots, patron_build, patron_snapshot
from patronsync.patrons.state import current_identifiers
from patronsync.patrons.swap import manually_changed, sis_protection, swap_all

from .choices import JobKind, RecordOutcome
from .context import RunContext


@dataclass
class Outcome:
    """What became of one incoming record."""

    raw: RawUser
    outcome: str
    index: int = 0  # position in the batch
    match_value: str = ""
    patron: Patron | None = None
    identifiers: list[dict[str, Any]] | None = None
    changes: dict[str, Any] = field(default_factory=dict)
    reason_code: str = ""
    reason: str = ""

    @property
    def primary_id(self) -> str:
        if self.patron is not None:
            return self.patron.primary_id
        return self.raw.primary_id or ""


def _reject(out: Outcome, code: str, reason: str) -> Outcome:
    out.outcome, out.reason_code, out.reason = RecordOutcome.REJECTED, code, reason
    out.patron = None
    return out


def match_value(raw: RawUser, match_type: str) -> str | None:
    """The record's value for the profile's match ID type (primary ID or an identifier type)."""
    if match_type == "PRIMARY_ID":
        return raw.primary_id
    return next((value for id_type, value in raw.identifiers if id_type == match_type), None)


def _all_keys(raw: RawUser) -> list[tuple[str, str]]:
    keys = [(PRIMARY_ID_TYPE, raw.primary_id)] if raw.primary_id else []
    return keys + list(raw.identifiers)


def generate_primary_id(data: PatronData, taken: set[str]) -> str:
    """Alma: a new user without a primary ID gets one made of its first and last name."""
    parts = [data.core.get("first_name") or "", data.core.get("last_name") or ""]
    text = ".".join(p for p in parts if p) or "user"
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    base = re.sub(r"[^a-z0-9.]+", "", ascii_text.lower()) or "user"
    candidate, number = base, 1
    while candidate in taken or Patron.objects.filter(primary_id__iexact=candidate).exists():
        number += 1
        candidate = f"{base}{number}"
    return candidate


@dataclass(slots=True)
class ParseResult:
    """A record parsed and checked: its data and content hash, or why it is rejected."""

    data: PatronData | None
    content_hash: str = ""
    reject_code: str = ""
    reject_reason: str = ""


def parse_record(raw: RawUser, codes: CodeTables, with_hash: bool = True) -> ParseResult:
    """Parse one record fully and check it against the store's rules (no database access).

    Without `with_hash` the content hash is left empty: an Import only creates users, and a
    later Synchronize compares them field by field the first time their bytes change.
    """
    parsed = raw.parse()
    if not parsed.ok:
        problem = parsed.errors[0]
        return ParseResult(None, reject_code=problem.code, reject_reason=str(problem))
    json_form = user_to_json(parsed.user)
    try:
        data = patron_data_from_json(json_form, codes=codes)
    except RuleViolation as exc:
        return ParseResult(None, reject_code=exc.code, reject_reason=exc.message)
    return ParseResult(data, content_hash(parsed.user, json_form) if with_hash else "")


def parse_records(
    raws: list[RawUser], codes: CodeTables, with_hash: bool = True
) -> list[ParseResult]:
    """`parse_record` for a whole batch: what a parse-ahead worker process runs."""
    return [parse_record(raw, codes, with_hash) for raw in raws]


# The change entry of a user whose manually changed fields follow the SIS again.
KEPT_BY_STAFF = "kept_by_staff"
# A matched record to update: (outcome, user id, checked data, content hash).
Update = tuple[Outcome, int, PatronData, str]
# A record to create: (outcome, checked data, content hash).
Create = tuple[Outcome, PatronData, str]


class BatchProcessor:
    """Decides the outcome of each record of one batch, in feed order.

    `preparsed`, when given, holds every record's `ParseResult` (computed ahead in another
    process); otherwise records are parsed here, and only when their bytes changed.
    """

    def __init__(
        self, ctx: RunContext, raws: list[RawUser], preparsed: list[ParseResult] | None = None
    ) -> None:
        self.ctx = ctx
        self.raws = raws
        self.preparsed = preparsed
        self.outcomes: list[Outcome] = []
        self.hash_refresh: list[Patron] = []
        # identifier key -> owner in this batch ("new:<n>" for users created by this batch)
        self.batch_owner: dict[str, object] = {}
        self.found: dict[str, int] = {}  # what the batch's lookup found: value key -> user id

    # -- lookups ---------------------------------------------------------------------------

    def _lookup(self) -> tuple[dict[str, int], dict[int, tuple[str, str, str]]]:
        ctx = self.ctx
        if ctx.kind == JobKind.IMPORT:
            # Import refuses a record whose primary ID or any identifier is taken.
            id_type = ALL_UNIQUE
            values = {v for raw in self.raws for _, v in _all_keys(raw)}
        else:
            id_type = PRIMARY_ID_TYPE if ctx.match_type == "PRIMARY_ID" else ctx.match_type
            values = {v for raw in self.raws if (v := match_value(raw, ctx.match_type))}
        found = patron_ids_by_match_values(
            institution=ctx.institution, id_type=id_type, values=list(values)
        )
        meta = {
            pid: (raw_hash, chash, account_type)
            for pid, raw_hash, chash, account_type in Patron.objects.filter(
                id__in=set(found.values())
            ).values_list("id", "raw_hash", "content_hash", "account_type")
        }
        return found, meta

    # -- decisions -------------------------------------------------------------------------

    def _parse(self, out: Outcome) -> tuple[PatronData, str] | None:
        if self.preparsed is not None:
            result = self.preparsed[out.index]
        else:
            result = parse_record(out.raw, self.ctx.codes, self.ctx.kind != JobKind.IMPORT)
        if result.data is None:
            _reject(out, result.reject_code, result.reject_reason)
            return None
        return result.data, result.content_hash

    def run(self) -> list[Outcome]:
        """Decide every record; returns the outcomes in feed order."""
        ctx = self.ctx
        found, meta = self._lookup()
        self.found = found
        to_update: list[Update] = []
        to_create: list[Create] = []
        batch_keys: set[str] = set()
        for index, raw in enumerate(self.raws):
            out = Outcome(raw=raw, outcome=RecordOutcome.REJECTED, index=index)
            self.outcomes.append(out)
            if ctx.kind == JobKind.IMPORT:
                self._decide_import(out, found, batch_keys, to_create)
            else:
                self._decide_sync(out, found, meta, batch_keys, to_update, to_create)
        self._apply_updates(to_update)
        self._apply_creations(to_create)
        return self.outcomes

    def _duplicate(self, out: Outcome, id_type: str, value: str) -> Outcome:
        return _reject(
            out,
            "DUPLICATE_IN_FEED",
            f"Identifier of type {id_type} and value {value} is already taken AcrossInstitution "
            "in this feed",
        )

    def _decide_import(
        self, out: Outcome, found: dict[str, int], batch_keys: set[str], to_create: list[Create]
    ) -> None:
        ctx = self.ctx
        keys = _all_keys(out.raw)
        out.match_value = out.raw.primary_id or (keys[0][1] if keys else "")
        for id_type, value in keys:
            key = identifier_key(value)
            pid = found.get(key)
            if key in batch_keys or (pid is not None and pid in ctx.touched):
                self._duplicate(out, id_type, value)
                return
            if pid is not None:
                _reject(
                    out,
                    "ALREADY_EXISTS",
                    f"User with identifier {value} of type {id_type} already exists; "
                    "Import does not update existing users",
                )
                return
        batch_keys.update(identifier_key(v) for _, v in keys)
        parsed = self._parse(out)
        if parsed is not None:
            to_create.append((out, *parsed))

    def _decide_sync(
        self,
        out: Outcome,
        found: dict[str, int],
        meta: dict[int, tuple[str, str, str]],
        batch_keys: set[str],
        to_update: list[Update],
        to_create: list[Create],
    ) -> None:
        ctx = self.ctx
        value = match_value(out.raw, ctx.match_type)
        if not value:
            _reject(
                out,
                "MATCH_ID_MISSING",
                f"The match identifier ({ctx.match_type}) is missing from the record",
            )
            return
        out.match_value = value
        key = identifier_key(value)
        pid = found.get(key)
        if key in batch_keys or (pid is not None and pid in ctx.touched):
            self._duplicate(out, ctx.match_type, value)
            return
        batch_keys.add(key)
        if pid is None:
            if ctx.unmatched == "REJECT":
                _reject(
                    out,
                    "UNMATCHED",
                    f"No user matches {ctx.match_type} {value} and the profile rejects "
                    "unmatched records",
                )
                return
            parsed = self._parse(out)
            if parsed is not None:
                to_create.append((out, *parsed))
            return
        raw_hash, _content_hash, account_type = meta[pid]
        if account_type != "EXTERNAL":
            _reject(out, "USER_NOT_EXTERNAL", "User is not external")
            return
        ctx.touched.add(pid)
        if raw_hash and raw_hash == out.raw.raw_hash:
            out.outcome = RecordOutcome.UNCHANGED
            return
        parsed = self._parse(out)
        if parsed is not None:
            data, chash = parsed
            to_update.append((out, pid, data, chash))

    # -- applying --------------------------------------------------------------------------

    def _own_identifiers_differ(
        self, out: Outcome, primary_id: str, identifiers: list[dict[str, Any]]
    ) -> bool:
        """A record may not carry one value twice (a barcode equal to its primary ID, say).

        Alma rejects it as it rejects a second record of the same person in one feed.
        """
        try:
            check_identifiers_within_user(primary_id, identifiers)
        except RuleViolation as exc:
            id_type = next(
                (i["id_type"]["value"] for i in identifiers if i["value"] == exc.value), ""
            )
            self._duplicate(out, id_type, str(exc.value))
            return False
        return True

    def _claim_identifiers(
        self, out: Outcome, owner: object, identifiers: list[dict[str, Any]], db_owner: dict
    ) -> bool:
        """Check the record's identifiers against other users and this feed; claim them."""
        ctx = self.ctx
        for item in identifiers:
            key = identifier_key(item["value"])
            holder = self.batch_owner.get(key, db_owner.get(key))
            if holder is None or holder == owner:
                continue
            id_type = item["id_type"]["value"]
            if holder in self.batch_owner.values() or holder in ctx.touched:
                self._duplicate(out, id_type, item["value"])
            else:
                # A user of the database (users this batch creates are "new:<n>").
                other = Patron.objects.filter(pk=cast(int, holder))
                other_id = other.values_list("primary_id", flat=True).first()
                _reject(
                    out,
                    "IDENTIFIER_TAKEN",
                    f"User with identifier {item['value']} of type {id_type} already exists "
                    f"(used by user {other_id or holder})",
                )
            return False
        for item in identifiers:
            self.batch_owner[identifier_key(item["value"])] = owner
        return True

    def _owners(self, items: list[list[dict[str, Any]]]) -> dict[str, int]:
        keys = {identifier_key(i["value"]) for ids in items for i in ids}
        rows = PatronIdentifier.objects.filter(
            institution=self.ctx.institution, value_key__in=keys
        ).values_list("value_key", "patron_id")
        return dict(rows)

    def _apply_updates(self, to_update: list[Update]) -> None:
        if not to_update:
            return
        patrons = Patron.objects.filter(id__in=[pid for _, pid, _, _ in to_update])
        by_id = {p.id: p for p in patrons.prefetch_related("identifiers")}
        planned = []
        for out, pid, data, chash in to_update:
            patron = by_id[pid]
            if chash and patron.content_hash == chash:
                out.outcome = RecordOutcome.UNCHANGED
                patron.raw_hash = out.raw.raw_hash
                self.hash_refresh.append(patron)
                continue
            before = patron_snapshot(patron, identifiers=current_identifiers(patron))
            kept_before = manually_changed(patron)
            try:
                identifiers = swap_all(patron=patron, incoming=data, context=self.ctx.swap)
            except RuleViolation as exc:
                _reject(out, exc.code, exc.message)
                continue
            if not self._own_identifiers_differ(out, patron.primary_id, identifiers):
                continue
            out.patron, out.identifiers = patron, identifiers
            out.changes = diff_snapshots(before, patron_snapshot(patron, identifiers=identifiers))
            if (kept := manually_changed(patron)) != kept_before:
                # The SIS repeated its last value: a field staff changed follows it again.
                out.changes[KEPT_BY_STAFF] = {"before": kept_before, "after": kept}
            patron.raw_hash, patron.content_hash = out.raw.raw_hash, chash
            planned.append(out)
        owners = self._owners([out.identifiers or [] for out in planned])
        for out in planned:
            assert out.patron is not None
            if not self._claim_identifiers(out, out.patron.id, out.identifiers or [], owners):
                continue
            if out.changes:
                out.outcome = (
                    RecordOutcome.WOULD_UPDATE if self.ctx.dry_run else RecordOutcome.UPDATED
                )
            else:
                out.outcome = RecordOutcome.UNCHANGED
                self.hash_refresh.append(out.patron)
                out.patron = None

    def _apply_creations(self, to_create: list[Create]) -> None:
        ctx = self.ctx
        if ctx.kind == JobKind.IMPORT:
            # The Import's lookup already covered every primary ID and identifier of the batch.
            owners = self.found
        else:
            owners = self._owners([data.identifiers or [] for _, data, _ in to_create])
        taken_ids: set[str] = set()
        for number, (out, data, chash) in enumerate(to_create):
            data.core.update(
                account_type="EXTERNAL", external_id=ctx.profile_code, record_type=ctx.record_type
            )
            if not data.core.get("primary_id"):
                data.core["primary_id"] = generate_primary_id(data, taken_ids)
            taken_ids.add(data.core["primary_id"].lower())
            identifiers = [
                {**item, "segment_type": "External"} for item in (data.identifiers or [])
            ]
            protection = sis_protection(data)  # what the SIS sent, before Alma's defaults
            try:
                patron = patron_build(institution=ctx.institution, data=data, codes=ctx.codes)
                patron.protection = protection
            except RuleViolation as exc:
                _reject(out, exc.code, exc.message)
                continue
            if not self._own_identifiers_differ(out, patron.primary_id, identifiers):
                continue
            primary = {"id_type": {"value": PRIMARY_ID_TYPE}, "value": patron.primary_id}
            owner = f"new:{number}"
            if not self._claim_identifiers(out, owner, [primary, *identifiers], owners):
                continue
            patron.raw_hash, patron.content_hash = out.raw.raw_hash, chash
            out.patron, out.identifiers = patron, identifiers
            out.outcome = RecordOutcome.WOULD_CREATE if ctx.dry_run else RecordOutcome.CREATED
