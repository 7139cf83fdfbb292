"""Reading SIS exports: delimiters, encodings and BOMs, JSON arrays and JSON Lines, joins."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from patronsync.almaxml.reader import iter_users
from patronsync.feeds.convert import inputs
from patronsync.feeds.convert.inputs import InputError, JoinIndex, open_input
from patronsync.feeds.convert.mapping import InputSpec, mapping_load
from patronsync.feeds.convert.run import BadRow, feed_convert


def rows(path: Path, **kwargs) -> list[tuple[int, dict, str | None]]:
    source = open_input(path, InputSpec(), **kwargs)
    return [(r.line, r.values, r.problem) for r in source.rows]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_the_delimiter_is_sniffed(tmp_path: Path, delimiter: str) -> None:
    path = tmp_path / "x.csv"
    path.write_text(delimiter.join(["id", "name", "city"]) + "\n"
                    + delimiter.join(["1", "Ada", "Ithaca"]) + "\n")  # fmt: skip
    source = open_input(path, InputSpec())
    assert source.delimiter == delimiter
    assert [r.values for r in source.rows] == [{"id": "1", "name": "Ada", "city": "Ithaca"}]


def test_a_given_delimiter_wins_over_the_sniffer(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("id;name,first\n1;Lovelace,Ada\n")
    assert rows(path, delimiter=";") == [(2, {"id": "1", "name,first": "Lovelace,Ada"}, None)]


def test_a_utf8_bom_is_dropped_from_the_first_column(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes("\ufeffid,name\n1,Chloé\n".encode())
    source = open_input(path, InputSpec())
    assert source.columns == ["id", "name"]
    assert source.warnings == []
    assert [r.values["name"] for r in source.rows] == ["Chloé"]


def test_a_utf16_file_with_a_bom_is_read(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes("id\tname\n1\tMüller\n".encode("utf-16"))
    assert rows(path) == [(2, {"id": "1", "name": "Müller"}, None)]


def test_a_cp1252_file_is_read_with_a_warning_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes("id,name\n1,Ada\n2,M\xfcller \x80\n".encode("latin-1"))
    source = open_input(path, InputSpec())
    assert source.encoding == "cp1252"
    [warning] = source.warnings
    assert warning.startswith(f"{path}:3: not UTF-8 (byte 0xfc at offset 17); read as cp1252")
    assert [r.values["name"] for r in source.rows] == ["Ada", "Müller €"]


# "é" is 2 bytes in UTF-8, "€" 3 and "😀" 4: with blocks of 1 to 5 bytes every one of them is
# cut by a block's end somewhere, and must be carried over whole to the next block.
_MULTIBYTE = '{"id": "1", "name": "Chloé €😀"}\n{"id": "2", "name": "Müller 😀€é"}\n'


@pytest.mark.parametrize("chunk", [1, 2, 3, 4, 5])
def test_the_utf8_check_carries_a_character_cut_by_a_block_end(tmp_path: Path, chunk: int) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(_MULTIBYTE.encode())
    assert inputs.detect_encoding(path, chunk=chunk) == ("utf-8", None)


@pytest.mark.parametrize("chunk", [1, 2, 3, 7])
def test_the_cp1252_fallback_names_the_line_of_the_first_bad_byte_in_small_blocks(
    tmp_path: Path, chunk: int
) -> None:
    path = tmp_path / "x.jsonl"
    head = _MULTIBYTE.encode()
    path.write_bytes(head + b'{"id": "3", "name": "M\xfcller \x80"}\n')
    encoding, warning = inputs.detect_encoding(path, chunk=chunk)
    assert encoding == "cp1252"
    offset = len(head) + len('{"id": "3", "name": "M')
    assert warning == (
        f"{path}:3: not UTF-8 (byte 0xfc at offset {offset}); read as cp1252 (Windows "
        "Latin-1): give --encoding if that is wrong"
    )


def test_a_character_cut_then_broken_after_a_block_end_names_its_first_byte(
    tmp_path: Path,
) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"a": 1}\n\xc3(\n')  # the block ends after 0xc3, the next byte is no part
    encoding, warning = inputs.detect_encoding(path, chunk=10)
    assert encoding == "cp1252"
    assert warning is not None
    assert warning.startswith(f"{path}:2: not UTF-8 (byte 0xc3 at offset 9)")


def test_a_file_ending_inside_a_utf8_character_is_read_as_cp1252(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes('{"name": "Chloé"}\n'.encode() + b"\xe2\x82")
    for chunk in (1, 4, None):
        assert inputs.detect_encoding(path, chunk=chunk) == (
            "cp1252",
            f"{path}: ends inside a UTF-8 character; read as cp1252",
        )


def test_a_given_encoding_is_used_without_detection(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes("id,name\n1,M\xfcller\n".encode("latin-1"))
    source = open_input(path, InputSpec(), encoding="latin-1")
    assert source.warnings == []
    assert [r.values["name"] for r in source.rows] == ["Müller"]


def test_rows_carry_the_line_they_start_on_even_with_quoted_newlines(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text('id,address\n1,"12 Main St\nApt 4"\n\n2,7 Elm St\n3,a,b\n')
    assert rows(path) == [
        (2, {"id": "1", "address": "12 Main St\nApt 4"}, None),
        (5, {"id": "2", "address": "7 Elm St"}, None),
        (6, {"id": "3", "address": "a"},
         "row has 3 fields, the header 2 (a delimiter or a quote inside a value?)"),
    ]  # fmt: skip


def test_a_header_with_a_repeated_column_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("id,name,id\n1,a,2\n")
    with pytest.raises(InputError, match=r"column 'id' is in the header twice \(columns 1 and 3\)"):
        open_input(path, InputSpec())


def test_json_lines_are_streamed_and_a_bad_line_is_a_bad_row(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"id": "1"}\n\n{"id": 2, "n": {"a": 1}}\n{oops\n[1]\n')
    got = rows(path)
    assert got[0] == (1, {"id": "1"}, None)
    assert got[1] == (3, {"id": 2, "n": {"a": 1}}, None)
    assert got[2][0] == 4
    assert (got[2][2] or "").startswith("not valid JSON: ")
    assert got[3] == (5, {}, "expected a JSON object for a user, got list")


@pytest.mark.parametrize("chunk", [7, 64, 1 << 20])
def test_a_json_array_is_streamed_in_chunks_with_the_line_of_each_object(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(inputs, "JSON_CHUNK", chunk)
    path = tmp_path / "x.json"
    path.write_text('{"meta": 1,\n "users": [\n  {"id": "1", "n": 12345},\n\n  {"id": "2",\n'
                    '   "emails": [{"a": "x"}]}\n ]}\n')  # fmt: skip
    got = rows(path)
    assert got == [
        (3, {"id": "1", "n": 12345}, None),
        (5, {"id": "2", "emails": [{"a": "x"}]}, None),
    ]


def test_a_truncated_json_array_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('[{"id": "1"},\n{"id": ')
    with pytest.raises(InputError, match="not valid JSON"):
        rows(path)


def test_a_join_index_gives_every_row_of_a_key_in_file_order(tmp_path: Path) -> None:
    path = tmp_path / "addr.csv"
    path.write_text("emplid,type\ne1,HOME\ne2,HOME\ne1,WORK\n,LOST\n")
    index = JoinIndex(open_input(path, InputSpec()), "emplid")
    try:
        assert index.lookup("e1") == [(2, {"emplid": "e1", "type": "HOME"}),
                                      (4, {"emplid": "e1", "type": "WORK"})]  # fmt: skip
        assert index.lookup("e3") == []
        assert index.problems == [(5, "the join key 'emplid' is empty")]
    finally:
        index.close()
    assert not Path(index.db_path).exists()


def test_a_join_key_missing_from_the_header_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "addr.csv"
    path.write_text("id,type\n1,HOME\n")
    with pytest.raises(InputError, match="the join key column 'emplid' is not in the header"):
        JoinIndex(open_input(path, InputSpec()), "emplid")


@pytest.mark.parametrize("chunk", [5, 1 << 20])
def test_a_wrapper_object_skips_values_before_the_users_even_with_brackets_in_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(inputs, "JSON_CHUNK", chunk)
    path = tmp_path / "x.json"
    path.write_text('{"note": "see [1]", "meta": {"n": [1, 2]},\n"users": [{"id": "1"}]}')
    assert rows(path) == [(2, {"id": "1"}, None)]


def test_a_wrapper_object_without_an_array_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"note": "x", "count": 2}')
    with pytest.raises(InputError, match="a JSON object holding no array of users"):
        rows(path)


def test_an_empty_json_array_has_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text(" [ ] ")
    assert rows(path) == []


LARGE_MAPPING = """\
version: 1
user:
  primary_id: {column: id, required: true}
  first_name: name.first
  last_name: {expr: name.last, required: true}
emails:
  - {address: email, types: [school], preferred: true}
"""


def large_export(tmp_path: Path) -> tuple[Path, Path]:
    """The same 20,000 objects as a JSON array and as JSON Lines, each object on the same line
    of both files (the array's first line is "[", the JSON Lines file's is blank)."""
    objects = [
        {"id": f"S{i:06d}", "name": {"first": "Ada", "last": "" if i == 12_345 else f"L{i}"},
         "email": f"s{i}@example.edu", "n": i, "score": i / 8}
        for i in range(20_000)
    ]  # fmt: skip
    lines = [json.dumps(o) for o in objects]
    (tmp_path / "in.jsonl").write_text("\n" + "\n".join(lines) + "\n")
    (tmp_path / "in.json").write_text("[\n" + ",\n".join(lines) + "\n]\n")
    return tmp_path / "in.json", tmp_path / "in.jsonl"


@pytest.mark.parametrize("chunk", [4096, 1 << 20])
def test_a_large_json_array_reads_as_the_same_rows_as_json_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    # A small chunk makes elements, commas and whitespace fall across chunk boundaries.
    monkeypatch.setattr(inputs, "JSON_CHUNK", chunk)
    array, lines = large_export(tmp_path)
    got = rows(array)
    assert len(got) == 20_000
    assert got[0] == (2, {"id": "S000000", "name": {"first": "Ada", "last": "L0"},
                          "email": "s0@example.edu", "n": 0, "score": 0.0}, None)  # fmt: skip
    assert got[-1][0] == 20_001
    assert got == rows(lines)


def test_a_large_json_array_converts_to_the_users_of_the_same_json_lines(
    tmp_path: Path,
) -> None:
    (tmp_path / "m.yaml").write_text(LARGE_MAPPING)
    large_export(tmp_path)
    mapping = mapping_load(tmp_path / "m.yaml")
    results = {}
    for name in ("in.jsonl", "in.json"):
        bad: list[BadRow] = []
        summary = feed_convert(mapping=mapping, inputs=[tmp_path / name],
                               output=tmp_path / f"{name}.xml", today=date(2026, 9, 1),
                               on_bad_row=bad.append)  # fmt: skip
        users = [p.user for p in iter_users(tmp_path / f"{name}.xml", strict=True)]
        results[name] = (summary.rows, summary.users, [(b.line, b.rule) for b in bad], users)
    rows_, users_, bad_, converted = results["in.json"]
    assert (rows_, users_) == (20_000, 19_999)
    assert bad_ == [(12_345 + 2, "REQUIRED_MISSING")]
    assert [u.primary_id for u in converted[:2]] == ["S000000", "S000001"]
    assert converted[-1].emails[0].email_address == "s19999@example.edu"
    assert results["in.json"] == results["in.jsonl"]
    xml = (tmp_path / "in.json.xml").read_bytes()
    assert xml == (tmp_path / "in.jsonl.xml").read_bytes()


@pytest.mark.parametrize("chunk", [3, 1 << 20])
def test_a_syntax_error_deep_in_a_json_array_names_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(inputs, "JSON_CHUNK", chunk)
    path = tmp_path / "x.json"
    good = ",\n".join(f'{{"id": "{i}"}}' for i in range(500))
    path.write_text(f'[\n{good},\n{{"id": \n  "500" oops}}\n]\n')
    with pytest.raises(InputError) as caught:
        rows(path)
    assert caught.value.line == 503
    assert caught.value.message.startswith("not valid JSON: ")


def test_a_json_value_longer_than_many_chunks_is_read_whole_up_to_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inputs, "JSON_CHUNK", 2)
    monkeypatch.setattr(inputs, "MAX_JSON_OBJECT", 400)
    path = tmp_path / "x.json"
    note = "é" * 300
    path.write_text(f'[{{"id": "1", "note": "{note}"}},\n{{"id": "2"}}]\n', encoding="utf-8")
    assert rows(path) == [(1, {"id": "1", "note": note}, None), (2, {"id": "2"}, None)]
    # Past the limit, the value is a syntax error on the line it starts on, not read on.
    path.write_text(f'[{{"id": "1"}},\n{{"id": "2", "note": "{note * 2}"}}]\n', encoding="utf-8")
    with pytest.raises(InputError) as caught:
        rows(path)
    assert caught.value.line == 2
    assert caught.value.message.startswith("not valid JSON: Unterminated string")
