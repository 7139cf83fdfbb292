"""What a run keeps across batches: touched users and the hashes known before."""

from __future__ import annotations

from patronsync.loader.state import KnownHashes, TouchedUsers


def test_touched_users_survive_the_checkpoint() -> None:
    touched = TouchedUsers()
    for patron_id in (1, 8, 1_000_003):
        touched.add(patron_id)
    restored = TouchedUsers.load(touched.dump())
    assert [n in restored for n in (1, 8, 1_000_003)] == [True, True, True]
    assert [n in restored for n in (0, 2, 1_000_002, 5_000_000, "1")] == [False] * 5


def test_known_hashes_compare_all_128_bits() -> None:
    base = "0123456789abcdef" * 2
    same_high = "0123456789abcdef" + "f" * 16
    known = KnownHashes(["f" * 32, base, ""])  # out of order: sorted on the way in
    assert len(known) == 2
    assert base in known
    assert same_high not in known
    assert "0" * 32 not in known
    assert "short" not in known
