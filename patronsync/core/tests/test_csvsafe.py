"""CSV cells a spreadsheet would run as formulas are written as text (OWASP's quote prefix)."""

from __future__ import annotations

import pytest

from patronsync.core.csvsafe import csv_safe_cell, csv_safe_row


@pytest.mark.parametrize("value", ["=1+2", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "=", "-"])
def test_text_starting_with_a_formula_prefix_gets_a_quote(value):
    assert csv_safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["jdoe", "a=1", " =1", "'=1", "", "1-2"])
def test_other_text_is_unchanged(value):
    assert csv_safe_cell(value) == value


def test_numbers_and_empty_cells_are_unchanged():
    assert csv_safe_row([-1, 2.5, None, "=x"]) == [-1, 2.5, None, "'=x"]
