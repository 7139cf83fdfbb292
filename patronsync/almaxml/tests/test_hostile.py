"""Bad and hostile input: clear errors, nothing leaked, other zip entries still read."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from patronsync.almaxml import Limits, iter_raw_users, iter_users

GOOD = b"<users><user><primary_id>ok</primary_id></user></users>"


def _read(source: bytes | Path, **kwargs: object) -> tuple[list, list]:
    reader = iter_users(source, name="feed", **kwargs)  # type: ignore[arg-type]
    users = list(reader)
    return users, reader.problems


def _zip(entries: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def test_external_entity_does_not_leak_a_local_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    data = (
        f'<?xml version="1.0"?>\n<!DOCTYPE users [<!ENTITY x SYSTEM "file://{secret}">]>\n'
        "<users><user><primary_id>&x;</primary_id></user></users>"
    ).encode()
    users, problems = _read(data)
    assert users == []
    assert [p.code for p in problems] == ["XML_DOCTYPE"]
    assert "TOP-SECRET" not in repr(users) + repr(problems)


@pytest.mark.parametrize("strict", [False, True])
def test_xinclude_is_never_followed(tmp_path: Path, strict: bool) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    data = (
        '<users xmlns:xi="http://www.w3.org/2001/XInclude"><user><primary_id>a</primary_id>'
        f'<last_name><xi:include href="file://{secret}" parse="text"/></last_name></user></users>'
    ).encode()
    users, _problems = _read(data, strict=strict)
    assert "TOP-SECRET" not in repr(users)
    assert [u.user.last_name for u in users] == [None]


def test_billion_laughs_is_refused() -> None:
    lol = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    data = f'<!DOCTYPE u [<!ENTITY l0 "lol">{lol}]><users><user><primary_id>&l9;</primary_id>'
    users, problems = _read((data + "</user></users>").encode())
    assert users == []
    assert [p.code for p in problems] == ["XML_DOCTYPE"]


def test_doctype_without_entities_is_refused() -> None:
    data = b'<?xml version="1.0"?><!DOCTYPE users SYSTEM "users.dtd">' + GOOD
    assert [p.code for p in _read(data)[1]] == ["XML_DOCTYPE"]


def test_utf16_doctype_is_refused() -> None:
    data = ('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE users []>' + GOOD.decode()).encode(
        "utf-16"
    )
    assert [p.code for p in _read(data)[1]] == ["XML_DOCTYPE"]


def test_not_xml_is_a_clear_error_naming_the_file() -> None:
    users, [problem] = _read(b"%PDF-1.4 not xml at all")
    assert users == []
    assert problem.code == "XML_NOT_WELL_FORMED"
    assert str(problem).startswith("feed:1: not well-formed XML")


def test_truncated_xml_keeps_earlier_users_and_reports_the_line() -> None:
    data = b"<users>\n<user><primary_id>a</primary_id></user>\n<user><primary_id>b</prim"
    users, [problem] = _read(data)
    assert [u.user.primary_id for u in users] == ["a"]
    assert problem.code == "XML_NOT_WELL_FORMED"
    assert problem.line == 3


def test_wrong_encoding_is_reported_with_its_line() -> None:
    data = "<users>\n<user><first_name>José</first_name></user></users>".encode("latin-1")
    users, [problem] = _read(b'<?xml version="1.0" encoding="UTF-8"?>\n' + data)
    assert users == []
    assert problem.code == "XML_NOT_WELL_FORMED"
    assert problem.line == 3
    assert "UTF-8" in problem.message


def test_invalid_xml_character_is_reported_with_its_line() -> None:
    data = b"<users>\n\n<user><first_name>A\x01B</first_name></user></users>"
    users, [problem] = _read(data)
    assert users == []
    assert problem.line == 3


def test_zip_bomb_by_ratio_is_refused(tmp_path: Path) -> None:
    data = _zip({"bomb.xml": b"<users>" + b" " * (8 * 1024**2) + b"</users>"})
    users, [problem] = _read(data)
    assert users == []
    assert problem.code == "ZIP_BOMB"


def test_zip_over_total_size_limit_is_refused() -> None:
    data = _zip({"a.xml": GOOD, "b.xml": GOOD})
    users, [problem] = _read(data, limits=Limits(max_total_bytes=len(GOOD) + 10))
    assert users == []
    assert problem.code == "ZIP_TOO_LARGE"


@pytest.mark.parametrize("name", ["../evil.xml", "/etc/evil.xml", "a/../../evil.xml", "C:/x.xml"])
def test_zip_entry_with_unsafe_path_is_refused(name: str) -> None:
    users, [problem] = _read(_zip({"good.xml": GOOD, name: GOOD}))
    assert users == []
    assert problem.code == "ZIP_UNSAFE_PATH"


def test_zip_with_more_than_50_xml_entries_is_refused() -> None:
    users, [problem] = _read(_zip({f"u{i:02d}.xml": GOOD for i in range(51)}))
    assert users == []
    assert problem.code == "ZIP_TOO_MANY_ENTRIES"


def test_zip_with_50_xml_entries_is_read() -> None:
    users, problems = _read(_zip({f"u{i:02d}.xml": GOOD for i in range(50)}))
    assert len(users) == 50
    assert problems == []


def test_oversized_user_element_is_refused() -> None:
    big = b"<users><user><primary_id>x</primary_id><first_name>" + b"a" * 5000
    data = big + b"</first_name></user><user><primary_id>y</primary_id></user></users>"
    users, [problem] = _read(data, limits=Limits(max_user_bytes=1000))
    assert users == []
    assert problem.code == "USER_TOO_LARGE"


@pytest.mark.parametrize("strict", [False, True])
def test_the_size_limit_counts_the_bytes_of_the_file(strict: bool) -> None:
    """Whether the document is cut at the byte level (lenient) or parsed (strict)."""
    accented = "<user><primary_id>x</primary_id><last_name>" + "é" * 3000 + "</last_name></user>"
    data = f"<users>{accented}</users>".encode()  # 6,067 bytes of UTF-8
    users, problems = _read(data, strict=strict, limits=Limits(max_user_bytes=7000))
    assert (len(users), problems) == (1, [])
    users, [problem] = _read(data, strict=strict, limits=Limits(max_user_bytes=6000))
    assert (users, problem.code) == ([], "USER_TOO_LARGE")


def test_endless_user_element_is_refused_while_streaming() -> None:
    data = b"<users><user><note_text>" + b"a" * (3 * 1024**2)
    users, [problem] = _read(data, limits=Limits(max_user_bytes=64 * 1024))
    assert users == []
    assert problem.code == "USER_TOO_LARGE"


def test_broken_entry_is_reported_and_other_entries_are_still_read() -> None:
    data = _zip({"a.xml": GOOD, "b.xml": b"<users><user>", "c.xml": GOOD})
    reader = iter_users(data, name="feed.zip")
    assert [u.position.entry for u in reader] == ["a.xml", "c.xml"]
    [problem] = reader.problems
    assert (problem.file, problem.entry, problem.code) == (
        "feed.zip",
        "b.xml",
        "XML_NOT_WELL_FORMED",
    )
    assert [(p.entry, p.complete) for p in reader.parts] == [
        ("a.xml", True),
        ("b.xml", False),
        ("c.xml", True),
    ]


def test_zip_entries_are_read_in_name_order_and_non_xml_skipped_with_warning() -> None:
    data = _zip({"b.xml": GOOD, "readme.txt": b"hi", "a.xml": GOOD, "__MACOSX/._a.xml": b"x"})
    reader = iter_users(data, name="feed.zip")
    assert [u.position.entry for u in reader] == ["a.xml", "b.xml"]
    assert {(p.severity, p.entry) for p in reader.problems} == {
        ("warning", "readme.txt"),
        ("warning", "__MACOSX/._a.xml"),
    }


def test_corrupt_zip_is_refused() -> None:
    data = _zip({"a.xml": GOOD})
    users, [problem] = _read(data[:40])
    assert users == []
    assert problem.code in {"ZIP_CORRUPT", "XML_NOT_WELL_FORMED"}


def test_missing_file_is_a_file_problem(tmp_path: Path) -> None:
    _users, [problem] = _read(tmp_path / "nope.zip")
    assert problem.code == "FILE_UNREADABLE"


def _many_entries(count: int, *, xml: int = 1) -> bytes:
    """A zip of `xml` good XML files and `count` empty entries that are not XML."""
    entries = {f"u{i:02d}.xml": GOOD for i in range(xml)}
    entries.update({f"junk/{i:06d}.txt": b"" for i in range(count)})
    return _zip(entries, zipfile.ZIP_STORED)


def test_zip_with_more_than_50_entries_of_any_kind_is_refused_with_one_problem() -> None:
    users, problems = _read(_many_entries(50))  # 51 entries, one of them XML
    assert users == []
    assert [(p.code, p.message) for p in problems] == [
        (
            "ZIP_TOO_MANY_ENTRIES",
            "zip holds 51 entries, over the limit of 50: every entry counts, XML or not, "
            "folders included (Alma's limit); zip refused",
        )
    ]


def test_zip_of_thousands_of_empty_entries_is_refused_naming_their_count() -> None:
    users, [problem] = _read(_many_entries(20_000))
    assert users == []
    assert problem.code == "ZIP_TOO_MANY_ENTRIES"
    assert problem.message.startswith("zip holds 20,001 entries")


def test_zip64_with_more_entries_than_a_plain_zip_can_count_is_refused() -> None:
    """Over 65,535 entries a zip says its count in its zip64 records."""
    users, [problem] = _read(_many_entries(70_000))
    assert users == []
    assert problem.message.startswith("zip holds 70,001 entries")


def test_a_folder_entry_counts_toward_the_50() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.mkdir("users")
        for i in range(50):
            zf.writestr(f"users/u{i:02d}.xml", GOOD)
    users, [problem] = _read(buffer.getvalue())
    assert (users, problem.code) == ([], "ZIP_TOO_MANY_ENTRIES")


def test_zip_that_understates_its_entry_count_is_still_refused() -> None:
    data = bytearray(_many_entries(59))  # 60 entries
    end = data.rfind(b"PK\x05\x06")
    data[end + 8 : end + 12] = (10).to_bytes(2, "little") * 2  # "10 entries" in the end record
    users, [problem] = _read(bytes(data))
    assert users == []
    assert problem.message.startswith("zip holds more than 50 entries")


def test_zip_with_50_entries_of_which_some_are_not_xml_is_read() -> None:
    reader = iter_users(_many_entries(45, xml=5), name="feed")
    assert len(list(reader)) == 5
    assert [p.code for p in reader.problems] == ["ZIP_ENTRY_SKIPPED"] * 45


ENTITY_FEED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<users>\n'
    b"<user><primary_id>a</primary_id></user>\n"
    b"<user>\n  <primary_id>bb</primary_id>\n  <last_name>Ana&nbsp;Lopez</last_name>\n</user>\n"
    b"<user><primary_id>c</primary_id></user>\n</users>\n"
)


@pytest.mark.parametrize("raw", [False, True])
@pytest.mark.parametrize("strict", [False, True])
def test_undefined_entity_is_reported_with_its_name_line_and_user(raw: bool, strict: bool) -> None:
    """On every reading path: the lenient byte splitter hands the user to the parser."""
    read = iter_raw_users if raw else iter_users
    reader = read(ENTITY_FEED, name="feed", strict=strict)
    assert [u.position.line for u in reader] == [3]
    [problem] = reader.problems
    assert (problem.code, problem.line, problem.primary_id) == ("XML_NOT_WELL_FORMED", 6, "bb")
    assert problem.message.startswith("not well-formed XML: undefined entity &nbsp; ")
    assert "&#160;" in problem.message  # how to write it instead


def test_file_level_error_names_the_user_being_read() -> None:
    data = b"<users>\n<user><primary_id>a</primary_id></user>\n<user>\n<primary_id>b</primary_id>"
    users, [problem] = _read(data + b"\n<first_name>Ada")
    assert [u.user.primary_id for u in users] == ["a"]
    assert (problem.code, problem.primary_id) == ("XML_NOT_WELL_FORMED", "b")
    assert str(problem).startswith("feed:5: user b: not well-formed XML")


def test_an_error_between_users_names_no_user() -> None:
    users, [problem] = _read(b"<users>\n<user><primary_id>a</primary_id></user>\n&nbsp;</users>")
    assert [u.user.primary_id for u in users] == ["a"]
    assert (problem.line, problem.primary_id) == (3, None)


def test_an_error_inside_the_primary_id_names_no_user() -> None:
    """The parser stopped inside the value: what it read of it is not the user's ID."""
    _users, [problem] = _read(b"<users>\n<user><primary_id>ab&nbsp;cd</primary_id></user></users>")
    assert (problem.line, problem.primary_id) == (2, None)


def test_a_user_over_the_size_limit_is_named() -> None:
    big = b"<users><user><primary_id>x</primary_id><first_name>" + b"a" * 5000
    data = big + b"</first_name></user></users>"
    _users, [problem] = _read(data, limits=Limits(max_user_bytes=1000))
    assert (problem.code, problem.primary_id) == ("USER_TOO_LARGE", "x")


def test_a_long_attribute_value_is_cut_in_the_problem_that_quotes_it() -> None:
    value = "y" * 900_000
    data = (
        '<users><user><primary_id>x</primary_id><contact_info><emails><email preferred="'
        + value
        + '"><email_address>a@b.c</email_address></email></emails></contact_info></user></users>'
    ).encode()
    [parsed], problems = _read(data)
    assert problems == []
    [problem] = parsed.errors
    assert problem.code == "VALUE_NOT_A_BOOLEAN"
    assert len(problem.message) == 1_000
    assert problem.message.startswith("attribute preferred='yyy")
    assert problem.message.endswith(" more characters]")
