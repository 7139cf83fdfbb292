"""The expression vocabulary: what each function gives, and that nothing else runs."""

from __future__ import annotations

import re
from datetime import date

import pytest

from patronsync.feeds.convert.expressions import (
    EvalError,
    ExpressionError,
    Scope,
    parse_expression,
)

ROW = {
    "first": "  ada  ",
    "last": "LOVELACE",
    "First Name": "Ada",
    "empty": None,
    "dob": "12/10/1995",
    "iso": "2024-01-31",
    "name": {"given": "Ada", "lines": ["1 Main St", "Apt 2"]},
    "count": 3,
    "flag": True,
}


def run(text: str, row: dict | None = None, **scope) -> object:
    return parse_expression(text).run(Scope(row=ROW if row is None else row, **scope))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("first", "  ada  "),
        ("trim(first)", "ada"),
        ("title(trim(first))", "Ada"),
        ("lower(last)", "lovelace"),
        ("upper(`First Name`)", "ADA"),
        ("concat(trim(first), ' ', title(last))", "ada Lovelace"),
        ("join(', ', last, empty, 'x')", "LOVELACE, x"),
        ("substr('20240131', 5, 2)", "01"),
        ("substr(last, 5)", "LACE"),
        ("replace(last, 'L', 'l')", "lOVElACE"),
        ("digits('+1 (555) 201-0001')", "15552010001"),
        ("coalesce(empty, missing, last)", "LOVELACE"),
        ("default(empty, 'none')", "none"),
        ("date(dob, '%m/%d/%Y')", date(1995, 12, 10)),
        ("date(iso)", date(2024, 1, 31)),
        ("format_date(date(iso), '%d.%m.%Y')", "31.01.2024"),
        ("add_days(date(iso), 1)", date(2024, 2, 1)),
        ("add_months(date(iso), 1)", date(2024, 2, 29)),  # clipped to the month's end
        ("add_months(date(iso), -13)", date(2022, 12, 31)),
        ("add_years(date('2024-02-29'), 1)", date(2025, 2, 28)),
        ("eq(count, '3')", True),
        ("if(flag, 'yes', 'no')", "yes"),
        ("if(empty(empty), 'blank', 'set')", "blank"),
        ("name.given", "Ada"),
        ("name.lines.1", "Apt 2"),
        ("name.lines.5", None),
        ("empty", None),
        ("missing", None),
    ],
)
def test_functions_give_what_the_reference_says(text: str, expected: object) -> None:
    assert run(text) == expected


def test_today_is_the_run_day_and_field_references_read_built_fields() -> None:
    today, built = date(2026, 9, 1), {"expiry_date": date(2027, 9, 1)}
    assert run("add_months(today(), 12)", today=today, built=built) == date(2027, 9, 1)
    assert run("add_days(@expiry_date, 180)", today=today, built=built) == date(2028, 2, 28)


def test_an_empty_cell_is_empty_for_every_function() -> None:
    assert run("upper(empty)") is None
    assert run("concat(empty, empty)") is None
    assert run("date(empty, '%m/%d/%Y')") is None


def test_a_date_that_does_not_parse_is_a_row_error_with_the_expected_format() -> None:
    with pytest.raises(EvalError) as info:
        run("date(dob)")
    assert info.value.rule == "DATE_INVALID"
    assert info.value.message == "'12/10/1995' is not a date (expected YYYY-MM-DD)"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("__import__('os')", "unknown function '__import__'"),
        ("eval('1')", "unknown function 'eval'"),
        ("first + last", "unexpected '+'"),
        ("first; last", "unexpected ';'"),
        ("upper(first) last", "unexpected 'last' after the expression"),
        ("concat(", "the expression ends too early"),
        ("today(1)", "today() takes 0 arguments, not 1"),
        ("'a' 'b'", "unexpected \"'b'\" after the expression"),
        ("", "the expression is empty"),
    ],
)
def test_anything_outside_the_vocabulary_is_refused(text: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=re.escape(message)):
        parse_expression(text)


def test_map_needs_a_known_value_map_by_name() -> None:
    with pytest.raises(ExpressionError, match="unknown value map 'progs'"):
        parse_expression("map(program, 'progs')", known_maps=["programs"])
    parsed = parse_expression("map(program, 'programs')", known_maps=["programs"])
    scope = Scope(row={"program": "BA"}, maps=lambda name, v: f"{name}:{v}")
    assert parsed.run(scope) == "programs:BA"
    assert parsed.maps == ["programs"]


def test_an_expression_lists_the_columns_it_reads() -> None:
    parsed = parse_expression("concat(first, ' ', `Last Name`, addr.city, @expiry_date)")
    assert parsed.column_names == ["first", "Last Name", "addr.city"]
    assert parsed.fields == ["expiry_date"]
