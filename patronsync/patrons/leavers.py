"""Leavers: the users a profile's complete feed no longer carries are expired, then deactivated.

A profile whose Synchronize feed is a complete snapshot (every current user, every run) says
so in its `sync_leavers` settings (`leavers:` in `config apply`). After each clean complete run
the profile's users the feed did not carry count one more missing run (`missing_runs`, since
`missing_since`). Over the rule's threshold (N consecutive complete runs, or D days) a user is
expired: its expiry date becomes today plus the grace period (never later than it was). Still
missing `deactivate_after_days` after that, it is deactivated (status INACTIVE). A user the
feed carries again is reactivated: the counters are cleared, the rule's state too, and a user
the rule deactivated is active again; its expiry date is the feed's, since every step clears
the user's change hashes and so makes the next record of it a full Swap All. Users staff
marked `exempt` are left alone.

Everything here is set-based: the profile's users are read in chunks of LEAVERS_CHUNK by id,
each chunk's counters moved with one UPDATE, and each chunk's steps written through the user
store's single writer (`store.patrons_write`) with one history row per user.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db.models import F, Value
from django.db.models.functions import Coalesce

from patronsync.core.exceptions import ConfigurationError
from patronsync.core.models import Institution

from .choices import AccountType, LeaverState, UserStatus
from .models import Patron
from .planning import Actor, Plan
from .store import patrons_write

LEAVERS_CHUNK = 5000
DEFAULT_EXPIRY_GRACE_DAYS = 30
LEAVER_KEYS = (
    "complete_snapshot",
    "expire_after_runs",
    "expire_after_days",
    "expiry_grace_days",
    "deactivate_after_days",
)
# What a step writes on a user (besides `updated_at`, which the store sets).
STEP_FIELDS = (
    "expiry_date", "status", "leaver_state", "leaver_since", "missing_runs", "missing_since",
    "raw_hash", "content_hash", "updated_at",
)  # fmt: skip
EXPIRE, DEACTIVATE, REACTIVATE = "expire", "deactivate", "reactivate"


@dataclass(frozen=True)
class LeaverRule:
    """A profile's leavers settings, checked (`leaver_rule_from`). Off: not a complete snapshot."""

    complete_snapshot: bool = False
    expire_after_runs: int | None = None
    expire_after_days: int | None = None
    expiry_grace_days: int = DEFAULT_EXPIRY_GRACE_DAYS
    deactivate_after_days: int | None = None

    @property
    def expires(self) -> bool:
        """Whether missing users are ever expired (a threshold of runs or days is set)."""
        return self.expire_after_runs is not None or self.expire_after_days is not None

    def as_settings(self) -> dict[str, Any]:
        """The rule as stored on a profile and on a job's parameters (unset keys left out)."""
        if not self.complete_snapshot:
            return {}
        settings: dict[str, Any] = {"complete_snapshot": True}
        for key in LEAVER_KEYS[1:]:
            value = getattr(self, key)
            if value is not None and not (key == "expiry_grace_days" and not self.expires):
                settings[key] = value
        return settings


def _whole(value: Any, *, place: str, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigurationError(f"{place}: {value!r}; expected a whole number, such as 3")
    if value < least:
        raise ConfigurationError(f"{place}: {value}; expected a whole number of {least} or more")
    return value


def leaver_rule_from(settings: Any, *, where: str = "leavers") -> LeaverRule:
    """Check a profile's leavers settings; raise ConfigurationError naming the setting at fault.

    Refused: an unknown key; `complete_snapshot` not true or false; a negative number (and a
    threshold under 1: "missing from 0 runs" means nothing); a leaver rule (a threshold, a grace
    period, a deactivation) on a feed that is not a complete snapshot; a deactivation without
    an expiry threshold, or sooner than the grace period ends.
    """
    if settings in (None, {}):
        return LeaverRule()
    if not isinstance(settings, dict):
        raise ConfigurationError(
            f"{where}: expected a mapping with {', '.join(LEAVER_KEYS)}, such as "
            "{complete_snapshot: true, expire_after_runs: 3}"
        )
    unknown = sorted(set(settings) - set(LEAVER_KEYS))
    if unknown:
        raise ConfigurationError(
            f"{where}: unknown key(s) {', '.join(map(str, unknown))}; expected "
            f"{', '.join(LEAVER_KEYS)}"
        )
    complete = settings.get("complete_snapshot", False)
    if not isinstance(complete, bool):
        raise ConfigurationError(f"{where}.complete_snapshot: {complete!r}; expected true or false")
    values: dict[str, int | None] = {}
    for key, least in (
        ("expire_after_runs", 1),
        ("expire_after_days", 1),
        ("expiry_grace_days", 0),
        ("deactivate_after_days", 0),
    ):
        value = settings.get(key)
        values[key] = None if value is None else _whole(value, place=f"{where}.{key}", least=least)
    if not complete:
        rule_keys = [key for key, value in values.items() if value is not None]
        if rule_keys:
            raise ConfigurationError(
                f"{where}.{rule_keys[0]}: a leaver rule needs a feed that is a complete "
                f"snapshot; set {where}.complete_snapshot: true, or remove {rule_keys[0]}"
            )
        return LeaverRule()
    expires = values["expire_after_runs"] is not None or values["expire_after_days"] is not None
    if not expires:
        for key in ("expiry_grace_days", "deactivate_after_days"):
            if values[key] is not None:
                raise ConfigurationError(
                    f"{where}.{key}: needs a threshold for expiry first; set "
                    f"{where}.expire_after_runs or {where}.expire_after_days"
                )
    grace = values["expiry_grace_days"]
    grace = DEFAULT_EXPIRY_GRACE_DAYS if grace is None else grace
    deactivate = values["deactivate_after_days"]
    if deactivate is not None and deactivate < grace:
        raise ConfigurationError(
            f"{where}.deactivate_after_days: {deactivate}; a user is deactivated only after "
            f"its grace period ({where}.expiry_grace_days: {grace}): expected {grace} or more"
        )
    return LeaverRule(
        complete_snapshot=True,
        expire_after_runs=values["expire_after_runs"],
        expire_after_days=values["expire_after_days"],
        expiry_grace_days=grace,
        deactivate_after_days=deactivate,
    )


@dataclass
class LeaverStep:
    """One user's step: expire, deactivate or reactivate, with its field changes and why."""

    kind: str
    patron_id: int
    primary_id: str
    changes: dict[str, dict[str, Any]]
    reason: str
    values: dict[str, Any] = field(default_factory=dict)  # the user's new STEP_FIELDS values


@dataclass
class LeaversPlan:
    """What the leavers step does (or did) to a profile's users after one complete run.

    `profile_users` counts the profile's users, `seen` those the feed carried, `missing` those
    it did not (exempt users left out: `exempt` counts the exempt users the rule left alone),
    `back` those it carried again after being missing; `expire`, `deactivate` and `reactivate`
    the steps.
    """

    profile_users: int = 0
    seen: int = 0
    missing: int = 0
    back: int = 0
    exempt: int = 0
    expire: int = 0
    deactivate: int = 0
    reactivate: int = 0

    def add(self, step: LeaverStep) -> None:
        setattr(self, step.kind, getattr(self, step.kind) + 1)

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


# The columns the rule reads of each of the profile's users.
ROW_COLUMNS = (
    "id", "primary_id", "exempt", "missing_runs", "missing_since", "leaver_state",
    "leaver_since", "status", "expiry_date",
)  # fmt: skip
Row = tuple[Any, ...]


def _profile_users(*, institution: Institution, profile_code: str) -> Any:
    return Patron.objects.filter(
        institution=institution, external_id=profile_code, account_type=AccountType.EXTERNAL
    )


def _chunks(
    *, institution: Institution, profile_code: str, seen: Callable[[int], bool]
) -> Iterator[tuple[int, int, list[Row]]]:
    """The profile's users by id, LEAVERS_CHUNK at a time: how many, how many the feed carried,
    and the rows of those the rule must look at (not carried, or with a missing count or a
    leaver state). A carried user with neither, almost everyone, costs one id in a flat list:
    three indexed queries a chunk, none per user."""
    users = _profile_users(institution=institution, profile_code=profile_code)
    last = 0
    while True:
        ids = list(
            users.filter(id__gt=last).order_by("id").values_list("id", flat=True)[:LEAVERS_CHUNK]
        )
        if not ids:
            return
        absent = [pid for pid in ids if not seen(pid)]
        marked = users.filter(id__gte=ids[0], id__lte=ids[-1]).exclude(
            missing_runs=0, missing_since=None, leaver_state=""
        )
        rows = {row[0]: row for row in marked.values_list(*ROW_COLUMNS)}
        if absent:
            rows.update(
                (row[0], row) for row in users.filter(id__in=absent).values_list(*ROW_COLUMNS)
            )
        yield len(ids), len(ids) - len(absent), sorted(rows.values())
        last = ids[-1]


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _decide(
    row: Row, *, rule: LeaverRule, seen: Callable[[int], bool], today: dt.date
) -> tuple[str, LeaverStep | None]:
    """What becomes of one user: ("exempt"|"keep"|"back"|"missing", its step or None).

    "back" and "missing" without a step only move the counters.
    """
    pid, primary_id, exempt, runs, since, state, state_since, status, expiry = row
    if exempt:
        return "exempt", None
    if seen(pid):
        if not state:
            return ("back" if runs or since else "keep"), None
        values: dict[str, Any] = {
            "leaver_state": "", "leaver_since": None, "missing_runs": 0, "missing_since": None,
        }  # fmt: skip
        changes: dict[str, dict[str, Any]] = {"leaver_state": {"before": state, "after": ""}}
        if state == LeaverState.DEACTIVATED and status == UserStatus.INACTIVE:
            values.update(status=UserStatus.ACTIVE, raw_hash="", content_hash="")
            changes["status"] = {"before": status, "after": UserStatus.ACTIVE.value}
        reason = f"Back in the complete feed after being {LeaverState(state).name.lower()}"
        return "back", LeaverStep(REACTIVATE, pid, primary_id, changes, reason, values)
    if state == LeaverState.DEACTIVATED:
        return "missing", None  # the rule is done with this user until the feed carries it
    runs, since = runs + 1, since or today
    days = (today - since).days
    missing_for = f"Missing from {runs} complete run{'s' if runs != 1 else ''} since {since}"
    counters = {"missing_runs": runs, "missing_since": since}
    if not state and rule.expires:
        by_runs = rule.expire_after_runs is not None and runs >= rule.expire_after_runs
        by_days = rule.expire_after_days is not None and days >= rule.expire_after_days
        if by_runs or by_days:
            new_expiry = today + dt.timedelta(days=rule.expiry_grace_days)
            if expiry is not None and expiry < new_expiry:
                new_expiry = expiry  # the rule never lengthens an account
            values = {**counters, "expiry_date": new_expiry, "leaver_state": LeaverState.EXPIRED,
                      "leaver_since": today, "raw_hash": "", "content_hash": ""}  # fmt: skip
            changes = {"leaver_state": {"before": "", "after": LeaverState.EXPIRED.value}}
            if new_expiry != expiry:
                changes["expiry_date"] = {"before": _iso(expiry), "after": _iso(new_expiry)}
            reason = f"{missing_for}; expiry date {new_expiry}"
            return "missing", LeaverStep(EXPIRE, pid, primary_id, changes, reason, values)
    if (
        state == LeaverState.EXPIRED
        and rule.deactivate_after_days is not None
        and state_since is not None
        and (today - state_since).days >= rule.deactivate_after_days
    ):
        values = {**counters, "status": UserStatus.INACTIVE, "leaver_since": today,
                  "leaver_state": LeaverState.DEACTIVATED,
                  "raw_hash": "", "content_hash": ""}  # fmt: skip
        changes = {"leaver_state": {"before": state, "after": LeaverState.DEACTIVATED.value}}
        if status != UserStatus.INACTIVE:
            changes["status"] = {"before": status, "after": UserStatus.INACTIVE.value}
        reason = f"{missing_for}; expired on {state_since}, deactivated"
        return "missing", LeaverStep(DEACTIVATE, pid, primary_id, changes, reason, values)
    return "missing", None


def _walk(
    *, institution: Institution, profile_code: str, rule: LeaverRule,
    seen: Callable[[int], bool], today: dt.date,
) -> Iterator[tuple[LeaversPlan, list[int], list[int], list[LeaverStep]]]:  # fmt: skip
    """Per chunk: its counts, the ids whose missing count goes up (no step), the ids back in
    the feed whose counters are cleared (no step), and the chunk's steps."""
    for users, carried, rows in _chunks(
        institution=institution, profile_code=profile_code, seen=seen
    ):
        counts = LeaversPlan(profile_users=users, seen=carried)
        missing, back, steps = [], [], []
        for row in rows:
            what, step = _decide(row, rule=rule, seen=seen, today=today)
            if what == "exempt":
                counts.exempt += 1
                continue
            if what == "back":
                counts.back += 1
                if step is None:
                    back.append(row[0])
            elif what == "missing":
                counts.missing += 1
                if step is None and row[5] != LeaverState.DEACTIVATED:
                    missing.append(row[0])
            if step is not None:
                counts.add(step)
                steps.append(step)
        yield counts, missing, back, steps


def _merge(total: LeaversPlan, part: LeaversPlan) -> None:
    for key, value in vars(part).items():
        setattr(total, key, getattr(total, key) + value)


def leavers_plan(
    *,
    institution: Institution,
    profile_code: str,
    rule: LeaverRule,
    seen: Callable[[int], bool],
    today: dt.date,
    step_seen: Callable[[list[LeaverStep]], None] | None = None,
) -> LeaversPlan:
    """What the leavers step would do after a complete run that carried the users `seen` says
    it carried; writes nothing. `step_seen`, if given, hears each chunk's planned steps."""
    total = LeaversPlan()
    for counts, _, _, steps in _walk(
        institution=institution, profile_code=profile_code, rule=rule, seen=seen, today=today
    ):
        _merge(total, counts)
        if step_seen is not None and steps:
            step_seen(steps)
    return total


def leavers_apply(
    *,
    institution: Institution,
    profile_code: str,
    rule: LeaverRule,
    seen: Callable[[int], bool],
    today: dt.date,
    actor: Actor,
    step_done: Callable[[list[LeaverStep]], None] | None = None,
) -> LeaversPlan:
    """Apply the leavers step (see the module's docstring); returns what it did.

    Runs in the caller's transaction: per chunk, one UPDATE moves the missing counts up, one
    clears those of users back in the feed, and the store writes the steps with their history
    rows (actor: `actor`, the job). `step_done` hears each chunk's written steps.
    """
    total = LeaversPlan()
    for counts, missing, back, steps in _walk(
        institution=institution, profile_code=profile_code, rule=rule, seen=seen, today=today
    ):
        _merge(total, counts)
        if missing:
            Patron.objects.filter(id__in=missing).update(
                missing_runs=F("missing_runs") + 1,
                missing_since=Coalesce(F("missing_since"), Value(today)),
            )
        if back:
            Patron.objects.filter(id__in=back).update(missing_runs=0, missing_since=None)
        if steps:
            _write_steps(institution=institution, steps=steps, actor=actor)
            if step_done is not None:
                step_done(steps)
    return total


def _write_steps(*, institution: Institution, steps: list[LeaverStep], actor: Actor) -> None:
    """Write the steps through the store's single writer, each group of users that change the
    same columns in one statement, with one history row each."""
    plans = []
    current = {
        row[0]: row[1:]
        for row in Patron.objects.filter(id__in=[s.patron_id for s in steps]).values_list(
            "id", "expiry_date", "status", "raw_hash", "content_hash"
        )
    }
    for step in steps:
        expiry, status, raw_hash, content_hash = current[step.patron_id]
        patron = Patron(
            id=step.patron_id,
            institution_id=institution.id,
            primary_id=step.primary_id,
            expiry_date=step.values.get("expiry_date", expiry),
            status=step.values.get("status", status),
            raw_hash=step.values.get("raw_hash", raw_hash),
            content_hash=step.values.get("content_hash", content_hash),
            leaver_state=step.values["leaver_state"],
            leaver_since=step.values["leaver_since"],
            missing_runs=step.values["missing_runs"],
            missing_since=step.values["missing_since"],
        )
        plans.append(Plan(patron, [], step.changes, fields=STEP_FIELDS))
    refused = patrons_write(plans=plans, actor=actor)
    if refused:  # only columns of the user's own row change: nothing the database may refuse
        raise refused[0][1]
