"""``patronsync feed convert``: bad rows with file, line and column, --strict, the summary, the exit
codes, and --against an institution's code tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from patronsync.almaxml.reader import iter_users
from patronsync.feeds.commands import main

MAPPING = """\
version: 1
maps:
  programs:
    values: {BA: UNDERGRAD, MA: GRAD}
    unmapped: reject
  departments:
    values: {CSCI: CS}
    default: SCI
user:
  primary_id: {column: id, required: true}
  first_name: first
  last_name: {column: last, required: true}
  user_group: {column: program, map: programs}
  birth_date: {column: born, date_format: "%d.%m.%Y"}
  expiry_date: add_months(today(), 12)
emails:
  - {address: email, types: [school], preferred: true}
statistics:
  - {category: {column: dept, map: departments}, type: DEPT}
"""
HEADER = "id,first,last,program,born,email,dept\n"


@pytest.fixture
def files(tmp_path: Path):
    def make(rows: str, mapping: str = MAPPING) -> tuple[Path, Path, Path]:
        (tmp_path / "m.yaml").write_text(mapping)
        (tmp_path / "in.csv").write_text(HEADER + rows)
        return tmp_path / "m.yaml", tmp_path / "in.csv", tmp_path / "out.xml"

    return make


def convert(mapping: Path, data: Path, out: Path, *extra: str) -> int:
    args = ["feed", "convert", "-m", str(mapping), str(data), "-o", str(out)]
    return main([*args, "--today", "2026-09-01", *extra])


def primary_ids(out: Path) -> list[str | None]:
    return [p.user.primary_id for p in iter_users(out, strict=True)]


GOOD_ROWS = (
    "1,Ada,Lovelace,BA,10.12.1995,ada@example.edu,CSCI\n2,Ben,Berg,MA,,ben@example.edu,HIST\n"
)


def test_good_rows_convert_and_exit_zero(files, capsys: pytest.CaptureFixture[str]) -> None:
    mapping, data, out = files(GOOD_ROWS)
    assert convert(mapping, data, out) == 0
    assert primary_ids(out) == ["1", "2"]
    text = capsys.readouterr().out
    assert f"2 rows read, 2 users written to {out}, ok" in text
    assert "departments: 'HIST': 1 row (given the default 'SCI')" in text


def test_each_bad_row_is_reported_with_file_line_column_and_rule(
    files, capsys: pytest.CaptureFixture[str]
) -> None:
    mapping, data, out = files(
        GOOD_ROWS
        + "3,Cleo,Dubois,XX,,c@example.edu,CSCI\n"
        + "4,Dan,,BA,,d@example.edu,CSCI\n"
        + "5,Eva,Fischer,BA,1999-01-15,e@example.edu,CSCI\n"
        + "6,Fay,Okafor,XX,,f@example.edu,CSCI\n"
    )
    assert convert(mapping, data, out) == 1
    text = capsys.readouterr().out
    assert (
        f"{data}:4: program (column 4): user.user_group: value 'XX' is not in value map "
        "'programs' [UNMAPPED_VALUE]"
    ) in text
    assert f"{data}:5: last (column 3): user.last_name: is required: last is empty " \
           "[REQUIRED_MISSING]" in text  # fmt: skip
    assert (
        f"{data}:6: born (column 5): user.birth_date: '1999-01-15' is not a date (expected "
        "format '%d.%m.%Y') [DATE_INVALID]"
    ) in text
    assert "programs: 'XX': 2 rows (rows rejected)" in text  # each value once, with its count
    assert text.count("programs: 'XX'") == 1
    assert "6 rows read, 2 users written" in text
    assert "4 bad rows" in text
    assert "rules broken: DATE_INVALID 1, REQUIRED_MISSING 1, UNMAPPED_VALUE 2" in text
    assert primary_ids(out) == ["1", "2"]  # the bad rows are left out


def test_strict_stops_at_the_first_bad_row_and_writes_nothing(
    files, capsys: pytest.CaptureFixture[str]
) -> None:
    mapping, data, out = files(GOOD_ROWS + "3,Cleo,Dubois,XX,,c@example.edu,CSCI\n"
                               + "4,Dan,,BA,,d@example.edu,CSCI\n")  # fmt: skip
    out.write_text("yesterday's feed")
    assert convert(mapping, data, out, "--strict") == 1
    text = capsys.readouterr().out
    assert f"{data}:4:" in text
    assert f"{data}:5:" not in text
    assert "stopped at the first bad row (--strict) after 3 rows; nothing written" in text
    assert out.read_text() == "yesterday's feed"
    assert [p.name for p in out.parent.iterdir() if "partial" in p.name] == []


def test_a_repeated_primary_id_is_a_bad_row_naming_the_first_line(
    files, capsys: pytest.CaptureFixture[str]
) -> None:
    mapping, data, out = files(GOOD_ROWS + "1,Ada,Again,BA,,x@example.edu,CSCI\n")
    assert convert(mapping, data, out) == 1
    assert "primary ID '1' is already on line 2 [DUPLICATE_PRIMARY_ID]" in capsys.readouterr().out
    assert primary_ids(out) == ["1", "2"]


def test_a_column_the_mapping_reads_but_the_file_lacks_exits_3(
    files, capsys: pytest.CaptureFixture[str]
) -> None:
    mapping, data, out = files(GOOD_ROWS, MAPPING.replace("column: last", "column: surname"))
    assert convert(mapping, data, out) == 3
    err = capsys.readouterr().err
    assert "reads column(s) 'surname', which the header does not have" in err
    assert not out.exists()


def test_a_bad_mapping_exits_2_naming_file_and_line(
    files, capsys: pytest.CaptureFixture[str]
) -> None:
    mapping_text = MAPPING.replace("  expiry_date:", "  colour: red\n  expiry_date:")
    mapping, data, out = files(GOOD_ROWS, mapping_text)
    assert convert(mapping, data, out) == 2
    assert f"{mapping}:15: user.colour: unknown Alma user field" in capsys.readouterr().err


def test_a_missing_input_exits_3(files, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mapping, _, out = files(GOOD_ROWS)
    assert convert(mapping, tmp_path / "nope.csv", out) == 3
    assert "nope.csv: no such file" in capsys.readouterr().err


def test_several_preferred_emails_are_a_bad_row(files, capsys: pytest.CaptureFixture[str]) -> None:
    mapping_text = MAPPING + "  - {address: first, types: [personal], preferred: true}\n"
    mapping_text = mapping_text.replace("statistics:\n  - {category: {column: dept, map: "
                                        "departments}, type: DEPT}\n", "")  # fmt: skip
    mapping_text += "statistics:\n  - {category: {column: dept, map: departments}, type: DEPT}\n"
    mapping, data, out = files("1,a@x.org,L,BA,,b@x.org,CSCI\n", mapping_text)
    assert convert(mapping, data, out) == 1
    assert "emails.preferred: 2 emails are preferred; Alma takes one [TOO_MANY_PREFERRED]" in (
        capsys.readouterr().out
    )


JOIN_MAPPING = """\
joins:
  - {name: addr, key: pid, on: id, required: true}
user:
  primary_id: id
  last_name: last
addresses:
  - for_each: addr
    line1: addr.street
    start_date: {expr: addr.since, date_format: "%Y%m%d"}
    types: [home]
    preferred: true
"""


def test_a_one_to_many_join_gives_several_addresses_and_reports_joined_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "m.yaml").write_text(JOIN_MAPPING)
    (tmp_path / "people.csv").write_text("id,last\n1,Hopper\n2,Turing\n3,Nobody\n")
    (tmp_path / "addr.csv").write_text(
        "pid,street,since\n1,Navy Yard,20200101\n2,Bletchley,bad\n1,Malott Hall,20210301\n"
    )
    out = tmp_path / "out.xml"
    args = ["feed", "convert", "-m", str(tmp_path / "m.yaml"), str(tmp_path / "people.csv"),
            str(tmp_path / "addr.csv"), "-o", str(out)]  # fmt: skip
    assert main(args) == 1
    text = capsys.readouterr().out
    assert f"{tmp_path / 'addr.csv'}:3: addr.since: addresses[0].start_date: 'bad' is not a " \
           "date (expected format '%Y%m%d') [DATE_INVALID]" in text  # fmt: skip
    assert f"{tmp_path / 'people.csv'}:4: id (column 1): joins.addr: no row in " in text
    assert "[JOIN_MISSING]" in text
    [hopper] = [p.user for p in iter_users(out, strict=True)]
    lines = [(a.line1, a.preferred, str(a.start_date)) for a in hopper.addresses]
    assert lines == [("Navy Yard", True, "2020-01-01"), ("Malott Hall", False, "2021-03-01")]


def test_json_lines_input_reports_bad_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    (tmp_path / "m.yaml").write_text("user:\n  primary_id: {column: id, required: true}\n"
                                     "  last_name: name.last\n")  # fmt: skip
    (tmp_path / "in.jsonl").write_text('{"id": "a", "name": {"last": "X"}}\n{"name": {}}\n{bad\n')
    out = tmp_path / "out.xml"
    args = ["feed", "convert", "-m", str(tmp_path / "m.yaml"), str(tmp_path / "in.jsonl")]
    assert main([*args, "-o", str(out)]) == 1
    text = capsys.readouterr().out
    assert f"{tmp_path / 'in.jsonl'}:2: id: user.primary_id: is required: id is empty" in text
    assert f"{tmp_path / 'in.jsonl'}:3: not valid JSON" in text
    assert primary_ids(out) == ["a"]


@pytest.mark.django_db
def test_against_lists_the_codes_the_institution_lacks_and_leaves_those_rows_out(
    files, institution, capsys: pytest.CaptureFixture[str]
) -> None:
    mapping_text = MAPPING.replace("{BA: UNDERGRAD, MA: GRAD}", "{BA: UNDERGRAD, MA: MASTERS}")
    mapping_text = mapping_text.replace("types: [school]", "types: [campus]")
    mapping, data, out = files(GOOD_ROWS + "3,Cleo,Dubois,MA,,c@example.edu,CSCI\n",
                               mapping_text)  # fmt: skip
    assert convert(mapping, data, out, "--against", institution.code) == 1
    text = capsys.readouterr().out
    assert (
        f"{data}:3: user.user_group: 'MASTERS' is not in code table UserGroups of institution "
        f"{institution.code} [USER_GROUP_NOT_LEGAL]"
    ) in text
    assert "emails.email_type: 'campus' is not in code table UserEmailTypes" in text
    assert f"Codes not in the code tables of institution {institution.code}:" in text
    assert "UserEmailTypes: 'campus': 3 rows" in text
    assert "UserGroups: 'MASTERS': 2 rows" in text
    assert primary_ids(out) == []


@pytest.mark.django_db
def test_against_a_clean_feed_exits_zero(files, institution) -> None:
    mapping, data, out = files(GOOD_ROWS)
    assert convert(mapping, data, out, "--against", institution.code) == 0
    assert primary_ids(out) == ["1", "2"]


@pytest.mark.django_db
def test_against_an_unknown_institution_exits_2(
    files, institution, capsys: pytest.CaptureFixture[str]
) -> None:
    mapping, data, out = files(GOOD_ROWS)
    assert convert(mapping, data, out, "--against", "nowhere") == 2
    assert "--against: no institution 'nowhere' (institutions: main" in capsys.readouterr().err


def test_a_schema_error_on_a_pin_never_prints_the_pin(
    files, capsys: pytest.CaptureFixture[str]
) -> None:
    mapping_text = MAPPING.replace(
        "  first_name: first\n",
        "  first_name: first\n  pin_number: concat(first, first, first, first, first)\n",
    )
    long_first = "s3cret" * 10  # the PIN: 300 characters, over the XSD's 255
    mapping, data, out = files(f"1,{long_first},L,BA,,a@x.org,CSCI\n", mapping_text)
    assert convert(mapping, data, out) == 1
    text = capsys.readouterr().out
    assert "<pin_number>" not in text
    assert "Element 'pin_number': [facet 'maxLength'] The value has a length of '300'" in text
    assert "s3cret" not in text.replace(str(data), "")


def test_xsd_messages_never_quote_a_password_and_stay_short() -> None:
    from patronsync.feeds.convert.run import redacted

    message = "Element 'password': [facet 'pattern'] The value 'hunter2' is not accepted."
    assert redacted(message) == (
        "Element 'password': [facet 'pattern'] The value (not shown) is not accepted."
    )
    other = "Element 'first_name': The value '" + "x" * 5000 + "' is not accepted."
    assert len(redacted(other)) < 1_100
    assert redacted(other).startswith("Element 'first_name': The value 'xxx")


def test_unmapped_values_are_kept_by_name_up_to_a_limit_then_counted() -> None:
    from patronsync.feeds.convert.build import Unmapped

    unmapped = Unmapped(limit=2)
    for value in ("A", "B", "A", "C", "D", "B"):
        unmapped.add("programs", value)
    assert unmapped.counts == {("programs", "A"): 2, ("programs", "B"): 2}
    assert unmapped.others == {"programs": 2}
