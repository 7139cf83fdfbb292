"""The fast path agrees with the reference path: same checked data, or it steps aside."""

from __future__ import annotations

import zlib
from dataclasses import asdict

import pytest
from hypothesis import HealthCheck, given, settings
from lxml import etree

from patronsync.almaxml import iter_raw_users, user_to_xml
from patronsync.almaxml.model import User
from patronsync.almaxml.tests.strategies import users
from patronsync.core.choices import CodeTableName as T
from patronsync.core.selectors import CodeTables
from patronsync.feeds.sample import write_sample_feed
from patronsync.loader.batch import parse_record
from patronsync.loader.plain import NotPlain, decode_plain
from patronsync.patrons.rules import PatronData

PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True)


class SomeCodes(CodeTables):
    """Knows about three codes in four, fixed by the code's checksum: both outcomes occur."""

    def has(self, table: str, code: str) -> bool:
        return zlib.crc32(f"{table}:{code}".encode()) % 4 != 0


class AllCodes(CodeTables):
    def has(self, table: str, code: str) -> bool:
        return True


def reference(xml: bytes, codes: CodeTables) -> PatronData | None:
    """What the reference path makes of the user: its data, or None when it rejects it."""
    raw = next(iter(iter_raw_users(b"<users>" + xml + b"</users>")))
    return parse_record(raw, codes, with_hash=False).data


def plain(xml: bytes, codes: CodeTables) -> PatronData | None:
    try:
        return decode_plain(etree.fromstring(xml, PARSER), codes)
    except NotPlain:
        return None


def same(a: PatronData, b: PatronData) -> bool:
    return asdict(a) == asdict(b)


SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(users)
def test_a_plain_user_gives_what_the_reference_path_gives(user: User) -> None:
    xml = etree.tostring(etree.fromstring(user_to_xml(user), PARSER))  # without a declaration
    for codes in (SomeCodes(), AllCodes()):
        fast = plain(xml, codes)
        if fast is not None:
            expected = reference(xml, codes)
            assert expected is not None, "the fast path took a user the reference rejects"
            assert asdict(fast) == asdict(expected)


def test_every_user_of_a_realistic_feed_takes_the_fast_path(tmp_path) -> None:
    feed = tmp_path / "feed.zip"
    write_sample_feed(feed, 300, seed=7, changed_fraction=0.1)
    codes = AllCodes()
    count = 0
    for raw in iter_raw_users(feed):
        fast = plain(raw.raw, codes)
        assert fast is not None, raw.raw
        expected = parse_record(raw, codes, with_hash=False).data
        assert expected is not None
        assert same(fast, expected)
        count += 1
    assert count == 300


BASE = (
    "<primary_id>p1</primary_id><first_name>Ada</first_name><last_name>Byron</last_name>"
    "<user_group>GRAD</user_group><expiry_date>2030-01-31Z</expiry_date>"
)


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (BASE + "<hobby>chess</hobby>", "an unknown element"),
        (BASE + "<birth_date>31/01/1990</birth_date>", "a date that cannot be read"),
        (BASE + "<is_researcher>perhaps</is_researcher>", "a boolean that cannot be read"),
        (BASE + "<gender>UNHEARD_OF</gender>", "a code outside the code table"),
        (BASE + "<first_name>" + "x" * 256 + "</first_name>", "a value over its length"),
        (
            BASE + '<contact_info><emails><email preferred="true"><email_address>a@x'
            '</email_address></email><email preferred="true"><email_address>b@x</email_address>'
            "</email></emails></contact_info>",
            "two preferred emails",
        ),
        (
            BASE + "<user_identifiers><user_identifier><id_type>BARCODE</id_type>"
            "</user_identifier></user_identifiers>",
            "an identifier without a value",
        ),
        (BASE + "<researcher><x>1</x></researcher>", "a researcher block"),
        ("<expiry_date>2030-01-31</expiry_date>", "nothing to identify the user by"),
    ],
)
def test_anything_unusual_takes_the_reference_path(body: str, why: str) -> None:
    codes = CodeTables(
        codes={
            T.USER_GROUPS: {"GRAD": "Graduate"},
            T.GENDERS: {"FEMALE": "Female"},
            T.IDENTIFIER_TYPES: {"BARCODE": "Barcode"},
            T.EMAIL_TYPES: {"school": "School"},
        }
    )
    assert decode_plain(etree.fromstring(f"<user>{BASE}</user>".encode(), PARSER), codes)
    with pytest.raises(NotPlain):
        decode_plain(etree.fromstring(f"<user>{body}</user>".encode(), PARSER), codes)


def test_a_namespaced_feed_takes_the_reference_path() -> None:
    xml = f'<user xmlns="http://com/exlibris/urm/user_record/xmlbeans">{BASE}</user>'.encode()
    with pytest.raises(NotPlain):
        decode_plain(etree.fromstring(xml, PARSER), AllCodes())
