"""Strict mode: XSD validation, user by user, with file, line and primary ID."""

from __future__ import annotations

from pathlib import Path

from patronsync.almaxml import iter_raw_users, iter_users

VALID = b"""<?xml version="1.0" encoding="UTF-8"?>
<users total_record_count="1">
  <user>
    <primary_id>p1</primary_id>
    <birth_date>2001-02-03Z</birth_date>
  </user>
</users>
"""
INVALID = b"""<?xml version="1.0" encoding="UTF-8"?>
<users>
  <user>
    <primary_id>p1</primary_id>
  </user>
  <user>
    <primary_id>p2</primary_id>
    <pref_full_name>X</pref_full_name>
  </user>
  <user>
    <primary_id>p3</primary_id>
    <user_identifiers>
      <user_identifier><value>v</value></user_identifier>
    </user_identifiers>
  </user>
</users>
"""


def test_valid_feed_has_no_problems_in_strict_mode() -> None:
    reader = iter_users(VALID, strict=True)
    assert [p.problems for p in reader] == [[]]
    assert reader.problems == []


def test_strict_mode_reports_file_line_and_primary_id() -> None:
    reader = iter_users(INVALID, strict=True, name="feed.xml")
    first, second, third = list(reader)
    assert first.ok
    schema = [p for u in (second, third) for p in u.errors if p.code == "SCHEMA_INVALID"]
    assert {(p.file, p.line, p.primary_id) for p in schema} == {
        ("feed.xml", 8, "p2"),
        ("feed.xml", 13, "p3"),
    }
    assert any("pref_full_name" in str(p) and "not expected" in str(p) for p in schema)


def test_lenient_mode_does_not_validate() -> None:
    second = list(iter_users(INVALID))[1]
    assert second.ok
    assert [w.code for w in second.warnings] == ["UNKNOWN_ELEMENT"]


def test_raw_users_validate_when_parsed_with_real_lines() -> None:
    raws = list(iter_raw_users(INVALID, strict=True, name="feed.xml"))
    assert [p.line for p in raws[1].parse().errors] == [8]
    assert [p.line for p in raws[2].parse().errors] == [13]


def test_strict_mode_reports_wrong_root_and_namespace(data_dir: Path) -> None:
    reader = iter_users(data_dir / "lenient.xml", strict=True)
    parsed = list(reader)
    assert [p.code for p in reader.problems] == ["SCHEMA_ROOT"]
    assert reader.problems[0].line == 3
    assert "SCHEMA_NAMESPACE" in {p.code for p in parsed[0].errors}


def test_strict_mode_reports_non_numeric_total_record_count() -> None:
    reader = iter_users(b'<users total_record_count="many"/>', strict=True)
    assert list(reader) == []
    assert [p.code for p in reader.problems] == ["SCHEMA_INVALID"]
