"""The mass-change guard's settings and thresholds (`profiles.guard`), without a database."""

from __future__ import annotations

import pytest

from patronsync.profiles.guard import (
    DEFAULTS,
    GuardSettingError,
    PlanCounts,
    guard_check,
    guard_settings,
)

ON = guard_settings({})


def crossed(plan: PlanCounts, profile_users: int, last: int | None = None, settings=ON):
    return [f["threshold"] for f in guard_check(plan, profile_users, last, settings)]


def test_the_defaults_are_on_with_the_documented_thresholds():
    assert ON == {
        "enabled": True,
        "max_changes": 500,
        "max_changes_percent": 5.0,
        "max_leavers": 100,
        "max_leavers_percent": 1.0,
        "min_feed_percent": 80.0,
    }
    assert guard_settings(None) == ON


def test_a_setting_given_replaces_only_its_default():
    settings = guard_settings({"max_changes": 50})
    assert settings == {**DEFAULTS, "max_changes": 50}


@pytest.mark.parametrize(
    ("raw", "key", "words"),
    [
        ({"max_changes": -1}, "max_changes", "is -1; expected 0 or more"),
        ({"max_leavers": 2.5}, "max_leavers", "expected a whole number"),
        ({"max_leavers": True}, "max_leavers", "expected a whole number"),
        ({"max_changes_percent": 101}, "max_changes_percent", "from 0 to 100"),
        ({"min_feed_percent": -5}, "min_feed_percent", "from 0 to 100"),
        ({"max_leavers_percent": "1%"}, "max_leavers_percent", "from 0 to 100"),
        ({"max_change": 5}, "max_change", "is not a setting of the guard"),
        ({"enabled": "no"}, "enabled", "expected true or false"),
        ([1, 2], "guard", "expected a mapping"),
    ],
)
def test_a_setting_that_makes_no_sense_is_refused_naming_it(raw, key, words):
    with pytest.raises(GuardSettingError) as raised:
        guard_settings(raw)
    assert raised.value.key == key
    assert str(raised.value).startswith(key)
    assert words in str(raised.value)


def test_changes_are_held_above_500_users_or_5_percent_whichever_is_larger():
    assert crossed(PlanCounts(updates=500), 1_000) == []
    assert crossed(PlanCounts(updates=501), 1_000) == ["changes"]
    # 5 % of 100,000 is 5,000: larger than 500
    assert crossed(PlanCounts(updates=5_000), 100_000) == []
    assert crossed(PlanCounts(updates=4_000, creates=1_001), 100_000) == ["changes"]


def test_creates_count_only_once_the_profile_has_users():
    assert crossed(PlanCounts(creates=1_000_000), 0) == []  # a first load
    assert crossed(PlanCounts(creates=501), 10) == ["changes"]


def test_expirations_and_deactivations_are_held_above_100_or_1_percent():
    assert crossed(PlanCounts(expirations=60, deactivations=40), 5_000) == []
    assert crossed(PlanCounts(expirations=60, deactivations=41), 5_000) == ["leavers"]
    assert crossed(PlanCounts(expirations=2_000), 200_000) == []
    assert crossed(PlanCounts(expirations=2_001), 200_000) == ["leavers"]


def test_a_feed_under_80_percent_of_the_last_complete_run_is_held():
    assert crossed(PlanCounts(feed_users=800), 1_000, last=1_000) == []
    assert crossed(PlanCounts(feed_users=799), 1_000, last=1_000) == ["feed_size"]
    assert crossed(PlanCounts(feed_users=0), 1_000, last=1_000) == ["feed_size"]  # empty feed
    assert crossed(PlanCounts(feed_users=0), 0, last=None) == []  # no complete run yet


def test_each_finding_says_in_plain_words_what_was_crossed():
    [changes, leavers, size] = guard_check(
        PlanCounts(updates=700, segment_removals=20, expirations=150, feed_users=100),
        1_000,
        1_000,
        ON,
    )
    assert changes["message"] == (
        "The run would create or update 700 users, 20 of them losing segments: more than 500 "
        "users (the larger of 500 users and 5 % of the profile's 1,000 users)"
    )
    assert (changes["count"], changes["limit"]) == (700, 500)
    assert leavers["message"].startswith("The run would expire 150 and deactivate 0 users")
    assert size["message"] == (
        "The feed carries 100 users, fewer than 80 % of the 1,000 users of the last complete "
        "run (800 users)"
    )


def test_the_guard_off_crosses_nothing():
    off = guard_settings({"enabled": False})
    assert crossed(PlanCounts(updates=10**6, feed_users=0), 10**6, last=10**6, settings=off) == []


def test_a_zero_threshold_holds_any_change():
    strict = guard_settings({"max_changes": 0, "max_changes_percent": 0})
    assert crossed(PlanCounts(updates=1), 10, settings=strict) == ["changes"]
    assert crossed(PlanCounts(), 10, settings=strict) == []
