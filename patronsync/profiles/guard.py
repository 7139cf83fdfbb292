"""The mass-change guard: its settings, and the thresholds a run's plan crosses.

A pure module (no database): the runner counts the plan (`jobs.runner`), this module says
which thresholds the counts cross, in plain words for the report. A profile's `sync_guard`
holds only what differs from the defaults; `{}` is the guard on, with the defaults:

- changes: the users a run would create, update or remove segments from: held above
  500 users or 5 % of the profile's users, whichever is larger. Creates count only once the
  profile has users: a first load into an empty profile is never held;
- leavers: the users a run would expire or deactivate: held above 100 users or 1 %;
- feed size: a feed with fewer users than 80 % of the last complete run is held.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

DEFAULTS: dict[str, Any] = {
    "enabled": True,
    "max_changes": 500,
    "max_changes_percent": 5.0,
    "max_leavers": 100,
    "max_leavers_percent": 1.0,
    "min_feed_percent": 80.0,
}
COUNT_KEYS = ("max_changes", "max_leavers")
PERCENT_KEYS = ("max_changes_percent", "max_leavers_percent", "min_feed_percent")


class GuardSettingError(ValueError):
    """A guard setting that makes no sense; `key` names it."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key} {message}")
        self.key = key


def guard_settings(raw: dict[str, Any] | None) -> dict[str, Any]:
    """The guard's settings: the defaults, with `raw`'s (a profile's `sync_guard`) over them.

    Raises GuardSettingError naming the setting for an unknown key, a count that is not a
    whole number of 0 or more, or a percentage outside 0 to 100.
    """
    raw = raw or {}
    if not isinstance(raw, dict):
        raise GuardSettingError("guard", f"is {raw!r}; expected a mapping of {', '.join(DEFAULTS)}")
    unknown = sorted(set(raw) - set(DEFAULTS))
    if unknown:
        raise GuardSettingError(
            unknown[0], f"is not a setting of the guard; expected one of {', '.join(DEFAULTS)}"
        )
    settings = {**DEFAULTS, **raw}
    if not isinstance(settings["enabled"], bool):
        raise GuardSettingError("enabled", f"is {settings['enabled']!r}; expected true or false")
    for key in COUNT_KEYS:
        value = settings[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise GuardSettingError(key, f"is {value!r}; expected a whole number of users")
        if value < 0:
            raise GuardSettingError(key, f"is {value}; expected 0 or more")
    for key in PERCENT_KEYS:
        value = settings[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            raise GuardSettingError(key, f"is {value!r}; expected a percentage from 0 to 100")
        if not 0 <= value <= 100:
            raise GuardSettingError(key, f"is {value}; expected a percentage from 0 to 100")
        settings[key] = float(value)
    return settings


@dataclass(frozen=True)
class PlanCounts:
    """What a run's plan would do, in users."""

    creates: int = 0
    updates: int = 0
    segment_removals: int = 0  # of the updates: users who would lose a segment
    expirations: int = 0
    deactivations: int = 0
    feed_users: int = 0  # users the feed carries (rejected ones included)

    def as_dict(self) -> dict[str, int]:
        return {
            "creates": self.creates,
            "updates": self.updates,
            "segment_removals": self.segment_removals,
            "expirations": self.expirations,
            "deactivations": self.deactivations,
            "feed_users": self.feed_users,
        }


def _limit(count: int, percent: float, of: int) -> int:
    """The larger of `count` users and `percent` % of `of` users (rounded down)."""
    return max(count, math.floor(of * percent / 100))


def _users(n: int) -> str:
    return f"{n:,} user" + ("" if n == 1 else "s")


def guard_check(
    plan: PlanCounts,
    profile_users: int,
    last_complete_users: int | None,
    settings: dict[str, Any],
) -> list[dict[str, Any]]:
    """The thresholds `plan` crosses: one finding each (`threshold`, `count`, `limit`,
    `message`), [] when none or when the guard is off.

    `profile_users` is how many users the profile has before the run; `last_complete_users`
    how many the last complete run's feed carried (None: no such run, the feed-size threshold
    is not checked). `settings` are `guard_settings(...)`'s.
    """
    if not settings["enabled"]:
        return []
    crossed: list[dict[str, Any]] = []
    # A first load into an empty profile creates everyone: its creates are not counted.
    changes = plan.updates + (plan.creates if profile_users else 0)
    limit = _limit(settings["max_changes"], settings["max_changes_percent"], profile_users)
    if changes > limit:
        removals = ""
        if plan.segment_removals:
            removals = f", {plan.segment_removals:,} of them losing segments"
        crossed.append({
            "threshold": "changes",
            "count": changes,
            "limit": limit,
            "message": (
                f"The run would create or update {_users(changes)}{removals}: more than "
                f"{_users(limit)} (the larger of {settings['max_changes']:,} users and "
                f"{settings['max_changes_percent']:g} % of the profile's "
                f"{profile_users:,} users)"
            ),
        })  # fmt: skip
    leavers = plan.expirations + plan.deactivations
    limit = _limit(settings["max_leavers"], settings["max_leavers_percent"], profile_users)
    if leavers > limit:
        crossed.append({
            "threshold": "leavers",
            "count": leavers,
            "limit": limit,
            "message": (
                f"The run would expire {plan.expirations:,} and deactivate "
                f"{plan.deactivations:,} users ({_users(leavers)}): more than {_users(limit)} "
                f"(the larger of {settings['max_leavers']:,} users and "
                f"{settings['max_leavers_percent']:g} % of the profile's {profile_users:,} users)"
            ),
        })  # fmt: skip
    if last_complete_users:
        least = math.ceil(last_complete_users * settings["min_feed_percent"] / 100)
        if plan.feed_users < least:
            crossed.append({
                "threshold": "feed_size",
                "count": plan.feed_users,
                "limit": least,
                "message": (
                    f"The feed carries {_users(plan.feed_users)}, fewer than "
                    f"{settings['min_feed_percent']:g} % of the {last_complete_users:,} users "
                    f"of the last complete run ({_users(least)})"
                ),
            })  # fmt: skip
    return crossed
