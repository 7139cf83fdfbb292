"""One batch of incoming users: match each record, decide its outcome, plan its write.

A batch is a few thousand users read from the feed in order. Matching and the unchanged check
use one indexed query each; only users whose bytes changed are parsed (hash first, parse what
changed). The engine only reads, parses and decides: each user's write is planned by the user
store (`patrons.planning`), its values claimed there (`patrons.claims`), and `writer.py` hands
the accepted plans to the store's one writer. A value that cannot be claimed rejects that user,
never the batch.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any, Protocol

from patronsync.almaxml import RawUser
from patronsync.almaxml.hashing import content_hash
from patronsync.almaxml.jsonform import user_to_json
from patronsync.core.exceptions import RuleViolation
from patronsync.core.selectors import CodeTables
from patronsync.core.text import REASON_CHARS, bounded
from patronsync.patrons.claims import IdentifierClaims, duplicate_in_feed
from patronsync.patrons.fields import PRIMARY_ID_TYPE
from patronsync.patrons.models import Patron, identifier_key
from patronsync.patrons.planning import (
    Actor,
    Plan,
    plan_create,
    plan_swap_all,
    primary_id_base,
    primary_id_candidates,
)
from patronsync.patrons.rules import PatronData, patron_data_from_json
from patronsync.patrons.selectors import patron_ids_by_match_values
from patronsync.patrons.state import current_identifiers

from .choices import JobKind, RecordOutcome
from .context import RunContext
from .state import TouchedUsers


@dataclass
class Outcome:
    """What became of one incoming record."""

    raw: RawUser
    outcome: str
    index: int = 0  # position in the batch
    match_value: str = ""
    patron: Patron | None = None
    plan: Plan | None = None
    changes: dict[str, Any] = field(default_factory=dict)
    reason_code: str = ""
    reason: str = ""

    @property
    def primary_id(self) -> str:
        if self.patron is not None:
            return self.patron.primary_id
        return self.raw.primary_id or ""

    def reject(self, problem: RuleViolation) -> None:
        # A reason may quote a value of the feed, of any length: it is stored cut, and says so.
        self.outcome, self.reason_code, self.reason = (
            RecordOutcome.REJECTED,
            problem.code,
            bounded(problem.message, REASON_CHARS),
        )
        self.patron = self.plan = None
        self.changes = {}


def _rejection(code: str, reason: str) -> RuleViolation:
    return RuleViolation(reason, code=code)


def match_value(raw: RawUser, match_type: str) -> str | None:
    """The record's value for the profile's match ID type (primary ID or an identifier type)."""
    if match_type == "PRIMARY_ID":
        return raw.primary_id
    return next((value for id_type, value in raw.identifiers if id_type == match_type), None)


def _all_keys(raw: RawUser) -> list[tuple[str, str]]:
    keys = [(PRIMARY_ID_TYPE, raw.primary_id)] if raw.primary_id else []
    return keys + list(raw.identifiers)


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


# A matched record to update: (outcome, user id, checked data, content hash).
Update = tuple[Outcome, int, PatronData, str]
# A record to create: (outcome, checked data, content hash).
Create = tuple[Outcome, PatronData, str]
# What the match lookup keeps of a matched user.
MATCH_COLUMNS = (
    "id", "raw_hash", "account_type", "record_type", "external_id", "primary_id",
)  # fmt: skip
# The columns a user whose bytes did not change gets when the profile's labels changed.
LABEL_FIELDS = ("record_type", "external_id", "updated_at")


class Mode(Protocol):
    """How a kind of job treats a batch: what it looks up, and what it decides of a record.

    `compares_content`: whether parsed records get a content hash (an Import only creates
    users; a later Synchronize compares them field by field the first time their bytes change).
    """

    compares_content: bool

    def lookup(self, batch: BatchProcessor) -> None: ...

    def decide(self, batch: BatchProcessor, out: Outcome) -> None: ...


class ImportMode:
    """Users IMPORT (SPEC §3.1): create each record none of whose values is taken."""

    compares_content = False

    def lookup(self, batch: BatchProcessor) -> None:
        batch.claims.load(value for raw in batch.raws for _, value in _all_keys(raw))

    def decide(self, batch: BatchProcessor, out: Outcome) -> None:
        keys = _all_keys(out.raw)
        out.match_value = out.raw.primary_id or (keys[0][1] if keys else "")
        for id_type, value in keys:
            holder = batch.claims.stored.get(identifier_key(value))
            if holder is not None and holder not in batch.ctx.touched:
                out.reject(
                    _rejection(
                        "ALREADY_EXISTS",
                        f"User with identifier {value} of type {id_type} already exists; "
                        "Import does not update existing users",
                    )
                )
                return
        # Values of users this feed created, or of earlier records: a duplicate in this feed.
        problem = batch.claims.reserve(keys, out)
        if problem is not None:
            out.reject(problem)
            return
        parsed = batch.parse(out)
        if parsed is not None:
            batch.to_create.append((out, *parsed))


class SynchronizeMode:
    """Users SYNCHRONIZE (SPEC §3.2): Swap All over the matched user, or add the unmatched.

    A profile matches its own users (external ID its code) and users with no external ID; a
    user of another profile is rejected (OTHER_PROFILES_USER) unless the profile takes over
    users. The match lookup's columns say whose a user is: no query of its own.
    """

    compares_content = True

    def lookup(self, batch: BatchProcessor) -> None:
        ctx = batch.ctx
        if len(ctx.match_types) > 1:
            _lookup_ordered(batch)
            return
        id_type = PRIMARY_ID_TYPE if ctx.match_type == "PRIMARY_ID" else ctx.match_type
        values: set[str] = set()
        kept: list[tuple[RawUser, str]] = []  # records with their user's stored bytes
        for raw in batch.raws:
            if value := match_value(raw, ctx.match_type):
                if raw.known_patron:
                    kept.append((raw, value))
                else:
                    values.add(value)
        batch.found = (
            patron_ids_by_match_values(
                institution=ctx.institution, id_type=id_type, values=list(values)
            )
            if values
            else {}
        )
        ids = set(batch.found.values())
        rows = Patron.objects.filter(id__in=ids).values_list(*MATCH_COLUMNS) if ids else ()
        batch.matched = {row[0]: row for row in rows}
        # A record with the very bytes its user was last loaded from, and the user still holding
        # its match value (the reader checked both against the hashes stored when the run took
        # its first file): matched without a query, as the lookup would, to be kept unchanged.
        for raw, value in kept:
            patron_id = raw.known_patron
            batch.found.setdefault(identifier_key(value), patron_id)
            batch.matched.setdefault(
                patron_id,
                (patron_id, raw.raw_hash, "EXTERNAL", ctx.record_type, ctx.profile_code,
                 raw.primary_id or ""),
            )  # fmt: skip
        # A matched value is held by the matched user: the claims need not look it up again.
        batch.claims.stored.update(batch.found)
        batch.claims.looked_up.update(batch.found)

    def decide(self, batch: BatchProcessor, out: Outcome) -> None:
        ctx = batch.ctx
        if len(ctx.match_types) > 1:
            pid = _match_ordered(batch, out)
            if pid is not None:
                self._matched(batch, out, pid)
            return
        value = match_value(out.raw, ctx.match_type)
        if not value:
            out.reject(
                _rejection(
                    "MATCH_ID_MISSING",
                    f"The match identifier ({ctx.match_type}) is missing from the record",
                )
            )
            return
        out.match_value = value
        problem = batch.claims.reserve([(ctx.match_type, value)], out)
        if problem is not None:
            out.reject(problem)
            return
        pid = batch.found.get(identifier_key(value))
        if pid is None:
            if ctx.unmatched == "REJECT":
                out.reject(
                    _rejection(
                        "UNMATCHED",
                        f"No user matches {ctx.match_type} {value} and the profile rejects "
                        "unmatched records",
                    )
                )
                return
            parsed = batch.parse(out)
            if parsed is not None:
                batch.to_create.append((out, *parsed))
            return
        self._matched(batch, out, pid)

    def _matched(self, batch: BatchProcessor, out: Outcome, pid: int) -> None:
        """The record matched stored user `pid`: keep it, Swap All over it, or reject it."""
        ctx = batch.ctx
        _, raw_hash, account_type, record_type, external_id, primary_id = batch.matched[pid]
        if account_type != "EXTERNAL":
            out.reject(_rejection("USER_NOT_EXTERNAL", "User is not external"))
            return
        # Profiles own their users: another profile's (its code as external ID) is not this
        # one's to relabel or Swap All over, unless this profile takes over users.
        if external_id and external_id != ctx.profile_code and not ctx.take_over_users:
            out.reject(
                _rejection(
                    "OTHER_PROFILES_USER",
                    f"User {primary_id} belongs to profile {external_id} (its external ID); "
                    f"profile {ctx.profile_code} does not take over other profiles' users",
                )
            )
            return
        batch.feed.matched.setdefault(pid, out.index)
        if raw_hash and raw_hash == out.raw.raw_hash:
            batch.keep(out, pid, record_type, external_id, primary_id)
            return
        parsed = batch.parse(out)
        if parsed is not None:
            batch.to_update.append((out, pid, *parsed))


def _lookup_ordered(batch: BatchProcessor) -> None:
    """The match lookup of ordered match keys: one indexed query per key for the whole batch."""
    ctx = batch.ctx
    for match_type in ctx.match_types:
        id_type = PRIMARY_ID_TYPE if match_type == "PRIMARY_ID" else match_type
        values = {v for raw in batch.raws if (v := match_value(raw, match_type))}
        found = patron_ids_by_match_values(
            institution=ctx.institution, id_type=id_type, values=list(values)
        )
        batch.found_by[match_type] = found
        batch.claims.stored.update(found)
        batch.claims.looked_up.update(found)
    ids = {pid for found in batch.found_by.values() for pid in found.values()}
    rows = Patron.objects.filter(id__in=ids).values_list(*MATCH_COLUMNS)
    batch.matched = {row[0]: row for row in rows}


def _match_ordered(batch: BatchProcessor, out: Outcome) -> int | None:
    """Match a record by the profile's match keys, in order; the matched user's id, or None.

    The first key that finds a user matches it. A record whose keys find different users is
    rejected (AMBIGUOUS_MATCH, naming them): applying it to one would take the other's values
    or overwrite the wrong person. A record no key finds is unmatched (added, or rejected as
    the profile says). None also when the record is rejected or is to be added.
    """
    ctx = batch.ctx
    present = [(t, v) for t in ctx.match_types if (v := match_value(out.raw, t))]
    if not present:
        names = ", ".join(ctx.match_types)
        out.reject(
            _rejection(
                "MATCH_ID_MISSING",
                f"The match identifiers ({names}) are all missing from the record",
            )
        )
        return None
    problem = batch.claims.reserve(present, out)
    if problem is not None:
        out.reject(problem)
        return None
    hits = [
        (match_type, value, pid)
        for match_type, value in present
        if (pid := batch.found_by[match_type].get(identifier_key(value))) is not None
    ]
    if not hits:
        out.match_value = present[0][1]
        if ctx.unmatched == "REJECT":
            tried = "; ".join(f"{t} {v}" for t, v in present)
            out.reject(
                _rejection(
                    "UNMATCHED",
                    f"No user matches {tried} and the profile rejects unmatched records",
                )
            )
            return None
        parsed = batch.parse(out)
        if parsed is not None:
            batch.to_create.append((out, *parsed))
        return None
    match_type, value, pid = hits[0]
    out.match_value = value
    other = next((hit for hit in hits if hit[2] != pid), None)
    if other is not None:
        first_user, other_user = batch.matched[pid][5], batch.matched[other[2]][5]
        out.reject(
            _rejection(
                "AMBIGUOUS_MATCH",
                f"The record matches user {first_user} by {match_type} {value} and user "
                f"{other_user} by {other[0]} {other[1]}; it is applied to neither",
            )
        )
        return None
    return pid


MODES: dict[str, Mode] = {JobKind.IMPORT: ImportMode(), JobKind.SYNCHRONIZE: SynchronizeMode()}


def _in_feed_words(problem: RuleViolation, plan_keys: list[tuple[str, str]]) -> RuleViolation:
    """A record that repeats its own value (a barcode equal to its primary ID) is rejected in
    Alma's words for a second record of the same person in one feed (SPEC §3.4)."""
    if problem.code != "IDENTIFIER_REPEATED":
        return problem
    key = identifier_key(str(problem.value))
    id_type = next((t for t, v in reversed(plan_keys) if identifier_key(v) == key), "")
    return duplicate_in_feed(id_type, str(problem.value))


# The owner of a value taken by a user kept between a batch's records (`BatchProcessor`'s `kept`).
KEPT: Any = object()


class FeedSoFar:
    """The users the feed touched before the record being claimed: in an earlier batch of the
    file, or matched by an earlier record of this batch. A value one of them holds is taken
    "in this feed"; a value of a user the feed matches only later is taken by that user.
    """

    def __init__(self, touched: TouchedUsers) -> None:
        self.touched = touched
        # User id -> index of the first record matching it; a user kept between two records of
        # an apply pass that applies the plan's records alone sits half-way between them.
        self.matched: dict[int, float] = {}
        self.position = -1  # the record being claimed; -1 while the batch is being read

    def __contains__(self, patron_id: object) -> bool:
        if patron_id in self.touched:
            return True
        first = self.matched.get(patron_id) if isinstance(patron_id, int) else None
        return first is not None and first < self.position


class BatchProcessor:
    """Decides the outcome of each record of one batch, in feed order, and plans its write.

    `preparsed`, when given, holds every record's `ParseResult` (computed ahead in another
    process); otherwise records are parsed here, and only when their bytes changed. After
    `run`, `accepted()` are the plans to write and `refreshed` the unchanged users whose
    hashes (and remembered SIS values) are to be stored.
    """

    def __init__(
        self,
        ctx: RunContext,
        raws: list[RawUser],
        preparsed: list[ParseResult] | None = None,
        kept: dict[int, tuple[float, str]] | None = None,
    ) -> None:
        """`kept`: users the feed keeps unchanged between this batch's records, which the batch
        does not carry (user id -> index half-way between the records around it, and the key
        of the match value their record gave). Each is matched, and its match value taken, where
        its record is, as if the batch carried it."""
        self.ctx = ctx
        self.raws = raws
        self.preparsed = preparsed
        self.mode = MODES[ctx.kind]
        self.actor = Actor.job(ctx.job_id, ctx.job_title)
        self.feed = FeedSoFar(ctx.touched)
        self.kept = sorted((index, key) for index, key in (kept or {}).values())
        for pid, (index, _) in (kept or {}).items():
            self.feed.matched[pid] = index
        self.claims = IdentifierClaims(institution=ctx.institution, feed=self.feed)
        self.outcomes: list[Outcome] = []
        self.refreshed: list[Patron] = []
        self.found: dict[str, int] = {}  # match value key -> matched user id
        # Ordered match keys: per match ID type, match value key -> matched user id.
        self.found_by: dict[str, dict[str, int]] = {}
        self.matched: dict[int, tuple[Any, ...]] = {}  # user id -> MATCH_COLUMNS
        self.to_update: list[Update] = []
        self.to_create: list[Create] = []
        self.roles_ignored = 0  # records that carried user roles, which a feed never sets

    def run(self) -> list[Outcome]:
        """Decide every record; returns the outcomes in feed order."""
        self.mode.lookup(self)
        kept = iter(self.kept)
        next_kept = next(kept, None)
        for index, raw in enumerate(self.raws):
            while next_kept is not None and next_kept[0] < index:
                self.claims.batch[next_kept[1]] = KEPT  # its record's match value, as it read
                next_kept = next(kept, None)
            out = Outcome(raw=raw, outcome=RecordOutcome.REJECTED, index=index)
            self.outcomes.append(out)
            self.mode.decide(self, out)
        # One query for every value the batch's writes may claim.
        incoming = [data for _, _, data, _ in self.to_update] + [d for _, d, _ in self.to_create]
        self.claims.load(value for data in incoming for _, value in _data_keys(data))
        # Claims are taken in feed order, updates and creations alike: the first record to ask
        # for a value gets it, as Alma loads the first and rejects the second.
        updates: list[tuple[Outcome, Plan | tuple[PatronData, str]]] = list(self._plan_updates())
        creations = [(out, (data, chash)) for out, data, chash in self.to_create]
        for out, item in heapq.merge(updates, creations, key=lambda pair: pair[0].index):
            self.feed.position = out.index
            if isinstance(item, Plan):
                self._claim(out, item)
            else:
                self._plan_creation(out, *item)
        for pid in self.feed.matched:
            self.ctx.touched.add(pid)
        if self.ctx.seen is not None:  # a complete feed's run notes who it carried (leavers)
            for pid in self.feed.matched:
                self.ctx.seen.add(pid)
        return self.outcomes

    def accepted(self) -> list[Outcome]:
        """The outcomes whose plans are to be written, in feed order."""
        return [o for o in self.outcomes if o.plan is not None]

    def parse(self, out: Outcome) -> tuple[PatronData, str] | None:
        if self.preparsed is not None:
            result = self.preparsed[out.index]
        else:
            result = parse_record(out.raw, self.ctx.codes, self.mode.compares_content)
        if result.data is None:
            out.reject(_rejection(result.reject_code, result.reject_reason))
            return None
        if result.data.segments.get("user_role"):
            self.roles_ignored += 1
        return result.data, result.content_hash

    def keep(
        self, out: Outcome, pid: int, record_type: str, external_id: str, primary_id: str
    ) -> None:
        """A matched user whose bytes did not change: unchanged, unless the profile's record
        type or code changed since, which every matched user then takes (SPEC §3.3)."""
        ctx = self.ctx
        if external_id == ctx.profile_code and (
            not ctx.record_type or record_type == ctx.record_type
        ):
            out.outcome = RecordOutcome.UNCHANGED  # nearly every user of a daily Synchronize
            return
        labels = {"record_type": ctx.record_type or record_type, "external_id": ctx.profile_code}
        before = {"record_type": record_type, "external_id": external_id}
        patron = Patron(
            id=pid,
            institution_id=ctx.institution.id,
            primary_id=primary_id,
            **labels,
        )
        changes = {
            name: {"before": before[name], "after": value}
            for name, value in labels.items()
            if before[name] != value
        }
        self._accept(out, Plan(patron, [], changes, fields=LABEL_FIELDS))

    def _accept(self, out: Outcome, plan: Plan) -> None:
        out.plan, out.patron, out.changes = plan, plan.patron, plan.changes
        where = out.raw.position
        # As the job's records keep them: the history's columns hold 512 characters.
        plan.origin = (where.file[:512], (where.entry or "")[:512], where.line)
        dry_run = self.ctx.dry_run
        if plan.created:
            out.outcome = RecordOutcome.WOULD_CREATE if dry_run else RecordOutcome.CREATED
        else:
            out.outcome = RecordOutcome.WOULD_UPDATE if dry_run else RecordOutcome.UPDATED

    def _claim(self, out: Outcome, plan: Plan) -> None:
        problem = self.claims.claim(
            plan.keys(), out, patron_id=plan.patron.pk, released=plan.released
        )
        if problem is not None:
            out.reject(problem)
        else:
            self._accept(out, plan)

    def _plan_updates(self) -> list[tuple[Outcome, Plan]]:
        """Plan the Swap All of each matched user whose bytes changed; the plans to claim."""
        if not self.to_update:
            return []
        ctx = self.ctx
        patrons = Patron.objects.filter(id__in=[pid for _, pid, _, _ in self.to_update])
        by_id = {p.id: p for p in patrons.prefetch_related("identifiers")}
        planned = []
        for out, pid, data, chash in self.to_update:
            patron = by_id[pid]
            labels_same = patron.external_id == ctx.profile_code and (
                not ctx.record_type or patron.record_type == ctx.record_type
            )
            if chash and patron.content_hash == chash and labels_same:
                out.outcome = RecordOutcome.UNCHANGED
                patron.raw_hash = out.raw.raw_hash
                self.refreshed.append(patron)
                continue
            try:
                plan = plan_swap_all(
                    patron=patron,
                    current=current_identifiers(patron),
                    incoming=data,
                    context=ctx.swap,
                    actor=self.actor,
                )
            except RuleViolation as exc:
                out.reject(_in_feed_words(exc, _data_keys(data)))
                continue
            patron.raw_hash, patron.content_hash = out.raw.raw_hash, chash
            if not plan.changes:
                out.outcome = RecordOutcome.UNCHANGED
                self.refreshed.append(patron)
                continue
            planned.append((out, plan))
        return planned

    def _generated_primary_id(self, data: PatronData) -> str:
        """Alma's primary ID for a new user the feed gives none: first.last, then first.last2...

        The run remembers how far each name got, so the thousandth John Smith of a feed costs
        no more lookups than the first (and a dry run, which writes nothing, never makes the
        same one twice).
        """
        base = primary_id_base(data)
        start = self.ctx.generated.get(base, 1)
        primary_id = self.claims.first_free(primary_id_candidates(base, start))
        number = primary_id[len(base) :]
        self.ctx.generated[base] = (int(number) if number else 1) + 1
        return primary_id

    def _plan_creation(self, out: Outcome, data: PatronData, chash: str) -> None:
        ctx = self.ctx
        if not data.core.get("primary_id"):
            data.core["primary_id"] = self._generated_primary_id(data)
        try:
            plan = plan_create(
                institution=ctx.institution,
                data=data,
                codes=ctx.codes,
                context=ctx.swap,
                with_changes=False,
            )
        except RuleViolation as exc:
            out.reject(_in_feed_words(exc, _data_keys(data)))
            return
        plan.patron.raw_hash, plan.patron.content_hash = out.raw.raw_hash, chash
        self._claim(out, plan)


def _data_keys(data: PatronData) -> list[tuple[str, str]]:
    primary = data.core.get("primary_id") or ""
    return [(PRIMARY_ID_TYPE, primary)] + [
        (i["id_type"]["value"], i["value"]) for i in data.identifiers or []
    ]
