"""Bounded text: a long value is cut to its limit, and the cut says how much was left out."""

from __future__ import annotations

import pytest

from patronsync.core.text import bounded


def test_a_text_within_the_limit_is_kept_as_it_is():
    assert bounded("abc", 3) == "abc"
    assert bounded("", 10) == ""


def test_a_long_text_keeps_its_start_and_says_how_much_was_cut():
    text = "x" * 900_000
    cut = bounded(text, 1_000)
    assert len(cut) == 1_000
    assert cut.startswith("x" * 900)
    left_out = 900_000 - cut.index("…")
    assert cut.endswith(f"… [cut: {left_out:,} more characters]")


@pytest.mark.parametrize("length", [41, 100, 9_999, 10_001, 1_000_000])
def test_the_cut_text_never_passes_the_limit_and_counts_exactly(length):
    text = "é" * length
    cut = bounded(text, 40)
    assert len(cut) <= 40
    kept = cut.index("…")
    assert cut == text[:kept] + f"… [cut: {length - kept:,} more characters]"


def test_a_limit_too_small_for_the_mark_keeps_the_start():
    assert bounded("abcdefghijklmnopqrstuvwxyz" * 4, 5) == "abcde"
