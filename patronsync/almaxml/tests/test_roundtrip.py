"""Round trips: XML and JSON give back the same users, and the writer's output is valid."""

from __future__ import annotations

import io
from dataclasses import fields

import pytest
from hypothesis import HealthCheck, assume, find, given, settings
from hypothesis import strategies as st
from lxml import etree

from patronsync.almaxml import User, iter_users, user_from_xml, user_to_xml, write_users
from patronsync.almaxml.jsonform import (
    user_from_json,
    user_to_json,
    users_from_json,
    users_to_json,
)
from patronsync.almaxml.tests.strategies import USER_FIELDS, users
from patronsync.almaxml.validation import users_schema

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.lists(users, min_size=1, max_size=3))
def test_parse_write_parse_gives_equal_users(generated: list[User]) -> None:
    buffer = io.BytesIO()
    write_users(generated, buffer, total_record_count=len(generated))
    reader = iter_users(buffer.getvalue())
    assert [parsed.user for parsed in reader] == generated
    assert reader.problems == []


@SETTINGS
@given(users)
def test_writer_output_validates_against_rest_users_xsd(user: User) -> None:
    buffer = io.BytesIO()
    write_users([user], buffer, total_record_count=1)
    document = etree.fromstring(buffer.getvalue())
    schema = users_schema()
    assert schema.validate(document), schema.error_log


@SETTINGS
@given(users)
def test_single_user_xml_round_trips(user: User) -> None:
    assume(user.is_identifiable())
    assert user_from_xml(user_to_xml(user)) == user


@SETTINGS
@given(users)
def test_json_round_trips(user: User) -> None:
    assert user_from_json(user_to_json(user)) == user


@pytest.mark.parametrize("name", [f.name for f in fields(User)])
def test_generated_users_fill_every_model_field(name: str) -> None:
    assert find(USER_FIELDS[name], lambda value: value not in (None, [])) is not None


def test_json_list_form_has_user_list_and_total() -> None:
    data = users_to_json([User(primary_id="a"), User(primary_id="b")])
    assert data == {"user": [{"primary_id": "a"}, {"primary_id": "b"}], "total_record_count": 2}
    assert users_from_json(data) == [User(primary_id="a"), User(primary_id="b")]
