"""The byte-level reading of plain feeds gives what the XML parser gives, or steps aside."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from patronsync.almaxml import iter_raw_users, iter_users
from patronsync.almaxml.reader import _SAFE_PARSER, _match_values
from patronsync.almaxml.splitter import (
    NotSimple,
    quick_identifiers,
    quick_primary_id,
    split_users,
)
from patronsync.almaxml.writer import write_users

from .strategies import users


def _parsed_values(raw: bytes) -> tuple[str | None, list[tuple[str, str]]]:
    return _match_values(etree.fromstring(raw, _SAFE_PARSER))


def _quick_values(raw: bytes) -> tuple[str | None, list[tuple[str, str]]] | None:
    try:
        return quick_primary_id(raw), quick_identifiers(raw)
    except NotSimple:
        return None


def _document(*users: bytes, root: bytes = b"<users>", end: bytes = b"</users>") -> bytes:
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + root + b"\n" + b"\n".join(users) + end


def _read(data: bytes, **kwargs: object) -> tuple[list, list]:
    reader = iter_raw_users(data, name="feed.xml", **kwargs)  # type: ignore[arg-type]
    return list(reader), reader.problems


def _summary(users: list) -> list[tuple]:
    return [
        (u.position.line, u.position.ordinal, u.primary_id, u.identifiers, u.raw_hash)
        for u in users
    ]


PLAIN = [
    b"<user><primary_id>A1</primary_id><user_identifiers><user_identifier segment_type="
    b'"External"><id_type desc="Barcode">BARCODE</id_type><value> B1 </value></user_identifier>'
    b"</user_identifiers></user>",
    b"<user>\n  <first_name>No ID</first_name>\n  <primary_id/>\n</user>",
    b"<user><user_identifiers><user_identifier><value>V1</value></user_identifier>"
    b"<user_identifier><id_type>UNIV_ID</id_type><value>  </value></user_identifier>"
    b"</user_identifiers><primary_id>\n  late  \n</primary_id></user>",
    b"<user><user_identifiers>\n<user_identifier><value>V</value><value>W</value></user_identifier"
    b" >\n<user_identifier/><user_identifier><id_type>X</id_type></user_identifier>"
    b"</user_identifiers></user>",
]

# Users whose match values only the parser reads right; the quick readers must say so.
UNUSUAL = {
    "entity in the value": b"<user><primary_id>A&amp;B</primary_id></user>",
    "character reference": b"<user><primary_id>&#65;1</primary_id></user>",
    "proxy's primary ID": b"<user><proxy_for_users><proxy_for_user><primary_id>P</primary_id>"
    b"</proxy_for_user></proxy_for_users></user>",
    "two primary IDs": b"<user><primary_id>A</primary_id><primary_id>B</primary_id></user>",
    "nested in an unknown element": b"<user><extra><primary_id>X</primary_id></extra></user>",
    "identifiers nested": b"<user><extra><user_identifiers><user_identifier><id_type>T</id_type>"
    b"<value>V</value></user_identifier></user_identifiers></extra></user>",
    "value nested": b"<user><user_identifiers><user_identifier><id_type>T</id_type><x><value>V"
    b"</value></x></user_identifier></user_identifiers></user>",
    "'/>' in text hides a level": b'<user><extra a="x/>"><primary_id>X</primary_id></extra></user>',
    "namespace declared on a child": b'<user><p:primary_id xmlns:p="urn:x">X</p:primary_id></user>',
    "child element in the value": b"<user><primary_id>A<b/>C</primary_id></user>",
    "two identifier blocks": b"<user><user_identifiers/><user_identifiers><user_identifier>"
    b"<value>V</value></user_identifier></user_identifiers></user>",
    "xml: prefix, declared by XML itself": b"<user><primary_id>A</primary_id>"
    b"<xml:primary_id>X</xml:primary_id></user>",
    "end tag with a space": b"<user><primary_id>P</primary_id ></user>",
    "an identifier holding more than text": b"<user><user_identifiers><user_identifier>"
    b"<value>V</value><note><b>x</b></note></user_identifier></user_identifiers></user>",
}


@pytest.mark.parametrize("raw", PLAIN)
def test_quick_readers_give_what_the_parser_gives(raw: bytes) -> None:
    assert _quick_values(raw) == _parsed_values(raw)


@pytest.mark.parametrize("raw", UNUSUAL.values(), ids=UNUSUAL.keys())
def test_quick_readers_step_aside_when_in_doubt(raw: bytes) -> None:
    assert _quick_values(raw) is None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(users, min_size=1, max_size=4))
def test_a_known_feed_reads_as_the_parser_reads_it(generated: list) -> None:
    """Users written by the writer: not parsed when known, and the same match values."""
    buffer = io.BytesIO()
    write_users(generated, buffer)
    data = buffer.getvalue()
    parsed, _ = _read(data)
    known = {u.raw_hash for u in parsed}
    skimmed, _ = _read(data, known=known)
    assert all(u.cached_identifiers is None for u in skimmed)  # nothing was parsed
    assert _summary(skimmed) == _summary(parsed)
    lines = [u.position.line for u in iter_users(data, strict=True)]  # strict: never split
    assert [u.position.line for u in parsed] == lines


def test_each_user_is_cut_with_its_line() -> None:
    data = _document(*PLAIN, end=b"\n</users>\n")
    cut = list(split_users(io.BytesIO(data), 10_000))
    assert [raw for _, raw in cut] == PLAIN
    assert [line for line, _ in cut] == [3, 4, 8, 11]
    assert [u.position.line for u in iter_users(data, strict=True)] == [3, 4, 8, 11]


def test_users_with_attributes_or_empty_are_cut_too() -> None:
    users = [b'<user link="https://x/users/A1">' + PLAIN[0][6:], b"<user/>", b'<user a="1" />']
    data = _document(*users)
    assert [raw for _, raw in split_users(io.BytesIO(data), 10_000)] == users
    assert [u.primary_id for u in iter_raw_users(data)] == ["A1", None, None]


def test_a_user_split_across_reads_is_whole() -> None:
    filler = b"<user><primary_id>F</primary_id>" + b"<note>" + b"x" * 300_000 + b"</note></user>"
    data = _document(filler, PLAIN[0])
    assert [raw for _, raw in split_users(io.BytesIO(data), 1_000_000)] == [filler, PLAIN[0]]


# Documents the splitter leaves to the parser; each still reads in full, in order, once.
NOT_PLAIN = {
    "default namespace": _document(*PLAIN, root=b'<users xmlns="urn:alma">'),
    "another encoding": _document(*PLAIN).replace(b"UTF-8", b"ISO-8859-1"),
    "comment between users": _document(PLAIN[0], b"<!-- x -->", *PLAIN[1:]),
    "CDATA in a user": _document(
        PLAIN[0], b"<user><primary_id><![CDATA[C1]]></primary_id></user>", PLAIN[2]
    ),
    "processing instruction": _document(PLAIN[0], b"<?pi x?>", PLAIN[1]),
    "text between users": _document(PLAIN[0], b"stray text", PLAIN[1]),
    "element other than user": _document(PLAIN[0], b"<person><primary_id>U2</primary_id></person>"),
    "namespaced user": _document(PLAIN[0], root=b'<a:users xmlns:a="urn:x">', end=b"</a:users>")
    .replace(b"<user>", b"<a:user>")
    .replace(b"</user>", b"</a:user>"),
    "comment before the root": b"<!-- export -->\n<users>" + PLAIN[0] + b"</users>",
}


@pytest.mark.parametrize("data", NOT_PLAIN.values(), ids=NOT_PLAIN.keys())
def test_documents_that_are_not_plain_read_as_before(data: bytes) -> None:
    with pytest.raises(NotSimple):
        list(split_users(io.BytesIO(data), 10_000))
    users, problems = _read(data)
    expected = list(iter_users(data))
    assert problems == []
    assert [(u.position.ordinal, u.position.line, u.primary_id) for u in users] == [
        (p.position.ordinal, p.position.line, p.user.primary_id) for p in expected
    ]
    assert len(users) >= 1


def test_a_malformed_user_is_reported_where_the_parser_meets_it() -> None:
    broken = b"<user><primary_id>B</primary_id><first_name>x</last_name></user>"
    data = _document(PLAIN[0], broken, PLAIN[1])
    users, problems = _read(data)
    assert [u.primary_id for u in users] == ["A1"]
    [problem] = problems
    assert problem.code == "XML_NOT_WELL_FORMED"
    assert problem.line == 4  # declaration, root, first user, this one
    assert "first_name" in problem.message
    parser_only = iter_users(data, strict=True, name="feed.xml")  # strict: never split
    list(parser_only)
    assert parser_only.problems == problems


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (_document(PLAIN[0], end=b""), "XML_NOT_WELL_FORMED"),  # truncated: no end tag
        (_document(PLAIN[0], PLAIN[1][:20]), "XML_NOT_WELL_FORMED"),  # cut inside a user
        (_document(PLAIN[0]) + b"<users/>", "XML_NOT_WELL_FORMED"),  # a second root
        (b"<!DOCTYPE users []>" + _document(PLAIN[0]), "XML_DOCTYPE"),
        # The root's start tag and the declaration are the parser's to refuse too.
        (_document(PLAIN[0], root=b'<users a="1" a="2">'), "XML_NOT_WELL_FORMED"),
        (_document(PLAIN[0], root=b'<users a="&">'), "XML_NOT_WELL_FORMED"),
        (_document(PLAIN[0], root=b'<users x:a="1">'), "XML_NOT_WELL_FORMED"),
        (b"\n" + _document(PLAIN[0]), "XML_NOT_WELL_FORMED"),  # space before the declaration
    ],
)
def test_broken_documents_keep_their_file_problem(data: bytes, code: str) -> None:
    users, problems = _read(data)
    assert [p.code for p in problems] == [code]
    assert len(users) <= 1


def test_a_plain_file_that_needs_the_parser_is_read_from_its_start_again(tmp_path: Path) -> None:
    path = tmp_path / "feed.xml"
    path.write_bytes(_document(PLAIN[0], PLAIN[1], b"<!-- late -->", PLAIN[2]))
    users, problems = _read(path.read_bytes())
    from_path = list(iter_raw_users(path))
    assert problems == []
    assert [u.primary_id for u in from_path] == [u.primary_id for u in users]
    assert [u.primary_id for u in from_path] == ["A1", None, "late"]
    assert [u.position.ordinal for u in from_path] == [1, 2, 3]


def test_hash_is_of_the_bytes_wherever_the_user_stands(tmp_path: Path) -> None:
    one = _document(PLAIN[0], PLAIN[1])
    two = _document(PLAIN[1], PLAIN[0], root=b"<userRecords>", end=b"</userRecords>")
    zipped = tmp_path / "feed.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("users.xml", two)
    by_id = {u.primary_id: u.raw_hash for u in iter_raw_users(one)}
    assert {u.primary_id: u.raw_hash for u in iter_raw_users(zipped)} == by_id
    changed = _document(PLAIN[0].replace(b"B1", b"B2"))
    assert next(iter_raw_users(changed)).raw_hash != by_id["A1"]
