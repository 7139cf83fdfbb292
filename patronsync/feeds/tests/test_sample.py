"""Sample feeds are realistic, valid, deterministic, and day 2 differs from day 1 as asked."""

from __future__ import annotations

from pathlib import Path

from patronsync.almaxml import iter_raw_users, iter_users
from patronsync.feeds.sample import generate_users, write_sample_feed


def test_generated_users_are_deterministic_and_realistic() -> None:
    one = list(generate_users(50, seed=7))
    assert one == list(generate_users(50, seed=7))
    assert {u.user_group.value for u in one if u.user_group} <= {
        "UNDERGRAD", "GRAD", "FACULTY", "STAFF",
    }  # fmt: skip
    for user in one:
        assert [i.id_type.value for i in user.user_identifiers if i.id_type] == [
            "BARCODE", "UNIV_ID",
        ]  # fmt: skip
        assert sum(e.preferred for e in user.emails) == 1
        assert len(user.addresses) == len(user.phones) == len(user.user_statistics) == 1


def test_sample_feed_is_valid_and_split_into_files(tmp_path: Path) -> None:
    path = tmp_path / "day1.zip"
    assert write_sample_feed(path, 120, seed=3, users_per_file=50) == 120
    reader = iter_users(path, strict=True)
    problems = [p for u in reader for p in u.problems]
    assert problems == []
    assert reader.problems == []
    assert [(p.entry, p.users) for p in reader.parts] == [
        ("users_001.xml", 50), ("users_002.xml", 50), ("users_003.xml", 20),
    ]  # fmt: skip


def test_day_two_feed_changes_and_adds_the_asked_fractions(tmp_path: Path) -> None:
    write_sample_feed(tmp_path / "d1.zip", 1000, seed=1)
    write_sample_feed(
        tmp_path / "d2.zip", 1000, seed=2, base_seed=1, changed_fraction=0.1, added_fraction=0.05
    )
    day1 = {r.primary_id: r.raw_hash for r in iter_raw_users(tmp_path / "d1.zip")}
    day2 = {r.primary_id: r.raw_hash for r in iter_raw_users(tmp_path / "d2.zip")}
    assert len(day2) == 1050
    assert set(day1) < set(day2)
    changed = sum(day1[k] != day2[k] for k in day1)
    assert 50 < changed < 150
