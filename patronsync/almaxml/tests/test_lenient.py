"""Lenient reading: real feeds that deviate from the XSD are still read."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from patronsync.almaxml import Code, iter_raw_users, iter_users


def _users(data: bytes) -> list:
    reader = iter_users(data, name="feed.xml")
    users = list(reader)
    assert reader.problems == []
    return users


def test_namespaced_userrecords_root_and_users_are_read(data_dir: Path) -> None:
    reader = iter_users(data_dir / "lenient.xml")
    parsed = list(reader)
    assert [p.user.primary_id for p in parsed] == ["A100", None]
    assert parsed[1].user.user_identifiers[0].value == "B200"
    assert reader.parts[0].users == 2
    assert reader.parts[0].complete


def test_z_offset_and_plain_dates_are_calendar_days(data_dir: Path) -> None:
    user = next(iter(iter_users(data_dir / "lenient.xml"))).user
    assert user.birth_date == date(1815, 12, 10)
    assert user.expiry_date == date(2030, 1, 31)
    assert user.purge_date == date(2030, 7, 31)


def test_empty_elements_are_absent(data_dir: Path) -> None:
    user = next(iter(iter_users(data_dir / "lenient.xml"))).user
    assert user.status_date is None
    assert user.addresses[0].city is None
    assert user.addresses[0].start_date is None


def test_booleans_accept_uppercase_and_digits(data_dir: Path) -> None:
    user = next(iter(iter_users(data_dir / "lenient.xml"))).user
    assert user.is_researcher is True
    assert user.addresses[0].preferred is True
    assert user.library_notices[0].value is False


def test_unknown_element_is_a_warning_with_its_line(data_dir: Path) -> None:
    first = next(iter(iter_users(data_dir / "lenient.xml")))
    assert first.ok
    [warning] = first.warnings
    assert warning.code == "UNKNOWN_ELEMENT"
    assert warning.line == 8
    assert str(warning) == (
        "lenient.xml:8: warning: user A100: unknown element <pref_full_name> in <user> ignored"
    )


def test_whitespace_is_trimmed_and_desc_kept(data_dir: Path) -> None:
    user = next(iter(iter_users(data_dir / "lenient.xml"))).user
    assert user.primary_id == "A100"
    assert user.addresses[0].address_types == [Code("home", "Home")]


def test_bare_users_root_without_namespace_is_read() -> None:
    [parsed] = _users(b"<users><user><primary_id>x</primary_id></user></users>")
    assert parsed.user.primary_id == "x"
    assert parsed.position.line == 1
    assert parsed.position.ordinal == 1


def test_user_without_identifying_data_is_reported_not_dropped() -> None:
    data = b"<users><user><status>ACTIVE</status></user></users>"
    [parsed] = _users(data)
    assert not parsed.ok
    assert [p.code for p in parsed.errors] == ["USER_UNIDENTIFIED"]


def test_bad_date_is_an_error_naming_field_and_value() -> None:
    data = b"<users>\n<user><primary_id>12345</primary_id>\n<birth_date>abc</birth_date>"
    data += b"</user></users>"
    [parsed] = _users(data)
    [error] = parsed.errors
    assert str(error) == (
        "feed.xml:3: user 12345: <birth_date> 'abc' is not a date (expected YYYY-MM-DD)"
    )
    assert parsed.user.birth_date is None


@pytest.mark.parametrize("raw", [b"yes", b"2"])
def test_unreadable_boolean_is_an_error(raw: bytes) -> None:
    data = b"<users><user><primary_id>p</primary_id><is_researcher>" + raw
    [parsed] = _users(data + b"</is_researcher></user></users>")
    assert [p.code for p in parsed.errors] == ["VALUE_NOT_A_BOOLEAN"]


def test_raw_path_gives_match_values_and_parses_later(data_dir: Path) -> None:
    raws = list(iter_raw_users(data_dir / "lenient.xml"))
    assert [(r.primary_id, r.identifiers) for r in raws] == [
        ("A100", []),
        (None, [("BARCODE", "B200")]),
    ]
    full = list(iter_users(data_dir / "lenient.xml"))
    for raw, parsed in zip(raws, full, strict=True):
        late = raw.parse()
        assert late.user == parsed.user
        assert late.raw_hash == parsed.raw_hash
        assert late.problems == parsed.problems


def test_raw_hash_ignores_what_surrounds_the_user() -> None:
    one = b"<users><user><primary_id>x</primary_id></user>\n\n  </users>"
    two = b"<userRecords>\n  <user><primary_id>x</primary_id></user></userRecords>"
    assert _users(one)[0].raw_hash == _users(two)[0].raw_hash
    three = b"<users><user><primary_id>y</primary_id></user></users>"
    assert _users(one)[0].raw_hash != _users(three)[0].raw_hash
