"""GET /users: `q` on segment fields matches the field's own value; `modify_date_from` filters."""

from __future__ import annotations

import datetime as dt

import pytest

from patronsync.accounts.services import api_key_create
from patronsync.patrons.models import Patron
from patronsync.patrons.tests.factories import patron_factory, user_json

from .conftest import ApiClient

USERS = "/almaws/v1/users"


def error_of(response) -> dict:
    return response.json()["errorList"]["error"][0]


def found(response) -> list[str]:
    body = response.json()
    assert response.status_code == 200, body
    ids = sorted(u["primary_id"] for u in body.get("user", []))
    assert body["total_record_count"] == len(ids)
    return ids


@pytest.fixture
def users(institution):
    """Two users whose segment codes and texts would match each other's searches as JSON text."""
    patron_factory(
        institution,
        primary_id="ada",
        contact_info={
            "email": [{"email_address": "ada@uni.edu", "email_type": [{"value": "school"}]}],
            "phone": [{"phone_number": "+1 555 0100", "phone_type": [{"value": "home"}]}],
        },
        user_note=[{"note_type": {"value": "LIBRARY"}, "note_text": "Asked about circulation"}],
        user_block=[
            {"block_type": {"value": "LOAN"}, "block_description": {"value": "FINE"}},
        ],
        user_statistic=[{"statistic_category": {"value": "BIO"}}],
    )
    patron_factory(
        institution,
        primary_id="bob",
        contact_info={
            "email": [{"email_address": "bob@school.example", "email_type": [{"value": "work"}]}],
            "phone": [{"phone_number": "home 0200", "phone_type": [{"value": "mobile"}]}],
        },
        user_note=[{"note_type": {"value": "CIRCULATION"}, "note_text": "Library card lost"}],
        user_statistic=[{"statistic_category": {"value": "ECON"}, "category_type": "BIO"}],
    )


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("email~school", ["bob"]),  # the address, not the email type "school"
        ("email~ADA@UNI", ["ada"]),
        ("email~.edu", ["ada"]),
        ("phone_number~home", ["bob"]),  # the number, not the phone type "home"
        ("phone_number~555", ["ada"]),
        ("note_text~library", ["bob"]),  # the text, not the note type LIBRARY
        ("note_text~circulation", ["ada"]),
        ("note_type~library", ["ada"]),  # the code, exactly
        ("note_type~LIB", []),
        ("block_type~LOAN", ["ada"]),
        ("block_type~FINE", []),  # FINE is the block's description, not its type
        ("statistic_category~bio", ["ada"]),
        ("statistic_category~ECON", ["bob"]),
        ("ALL~school", ["bob"]),
        ("email~school OR phone_number~555", ["ada", "bob"]),
        ("email~school AND note_type~CIRCULATION", ["bob"]),
    ],
)
def test_q_on_a_segment_field_matches_that_fields_value(api, users, q, expected):
    assert found(api.get(USERS, q=q)) == expected


@pytest.mark.parametrize("value", ["%", "_", "\\"])
def test_q_on_a_segment_field_takes_like_wildcards_literally(api, users, value):
    assert found(api.get(USERS, q=f"email~{value}")) == []


def test_q_on_a_segment_field_of_a_user_without_that_segment_matches_nothing(api, institution):
    patron_factory(institution, primary_id="plain", contact_info={})

    assert found(api.get(USERS, q="email~a")) == []
    assert found(api.get(USERS, q="note_type~LIBRARY")) == []


def test_q_id_type_finds_users_with_an_identifier_of_that_type(api, institution):
    patron_factory(
        institution, primary_id="card", user_identifier=[{"id_type": "BARCODE", "value": "B1"}]
    )
    patron_factory(
        institution, primary_id="univ", user_identifier=[{"id_type": "UNIV_ID", "value": "U1"}]
    )

    assert found(api.get(USERS, q="id_type~univ_id")) == ["univ"]


def _modified(primary_id: str, when: dt.datetime) -> None:
    # A queryset update leaves auto_now alone, so the modification time is the one given.
    Patron.objects.filter(primary_id=primary_id).update(updated_at=when)


def test_modify_date_from_keeps_users_modified_on_or_after_that_day(api, institution):
    for primary_id in ("old", "same_day", "recent"):
        patron_factory(institution, primary_id=primary_id)
    _modified("old", dt.datetime(2025, 2, 28, 23, 59, 59, tzinfo=dt.UTC))
    _modified("same_day", dt.datetime(2025, 3, 1, 0, 0, 0, tzinfo=dt.UTC))
    _modified("recent", dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC))

    assert found(api.get(USERS, modify_date_from="2025-03-01")) == ["recent", "same_day"]
    assert found(api.get(USERS, modify_date_from="2025-03-02")) == ["recent"]


def test_modify_date_from_in_the_future_returns_no_user(api, institution):
    patron_factory(institution, primary_id="jdoe")

    assert found(api.get(USERS, modify_date_from="2999-01-01")) == []


def test_modify_date_from_is_the_day_in_the_institutions_time_zone(other_institution):
    _, key = api_key_create(institution=other_institution, name="berlin", read_only=True)
    patron_factory(other_institution, primary_id="late")
    patron_factory(other_institution, primary_id="early")
    # 23:30 UTC on 1 March is 00:30 on 2 March in Berlin; 22:30 UTC is still 1 March there.
    _modified("late", dt.datetime(2025, 3, 1, 23, 30, tzinfo=dt.UTC))
    _modified("early", dt.datetime(2025, 3, 1, 22, 30, tzinfo=dt.UTC))

    assert found(ApiClient(key).get(USERS, modify_date_from="2025-03-02")) == ["late"]


def test_user_created_through_the_api_is_found_by_modify_date_from(api, institution):
    patron_factory(institution, primary_id="untouched")
    _modified("untouched", dt.datetime(2020, 1, 1, tzinfo=dt.UTC))

    api.post(USERS, user_json(primary_id="fresh"))

    yesterday = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)).isoformat()
    assert found(api.get(USERS, modify_date_from=yesterday)) == ["fresh"]


def test_user_updated_through_the_api_is_found_by_modify_date_from(api, institution):
    patron_factory(institution, primary_id="untouched")
    patron_factory(institution, primary_id="edited")
    _modified("untouched", dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    _modified("edited", dt.datetime(2020, 1, 1, tzinfo=dt.UTC))

    put = api.put(f"{USERS}/edited", user_json(primary_id="edited", first_name="Edith"))

    assert put.status_code == 200, put.content
    assert found(api.get(USERS, modify_date_from="2021-01-01")) == ["edited"]


@pytest.mark.parametrize(
    "value", ["2999-13-01", "2025-02-30", "20250301", "2025-3-1", "yesterday", "2025-03-01T00:00"]
)
def test_malformed_modify_date_from_is_refused_with_402119(api, institution, value):
    patron_factory(institution, primary_id="jdoe")

    response = api.get(USERS, modify_date_from=value)

    assert response.status_code == 400
    assert error_of(response)["errorCode"] == "402119"
    assert error_of(response)["errorMessage"] == (
        f"General error: modify_date_from {value!r} is not a date (yyyy-MM-dd)"
    )
    assert "user" not in response.json()


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_q_with_modify_date_from_is_refused_with_402119(api, institution, fmt):
    patron_factory(institution, primary_id="jdoe")

    response = api.get(USERS, fmt=fmt, q="primary_id~jdoe", modify_date_from="2020-01-01")

    assert response.status_code == 400
    message = (
        "General error: the parameters q and modify_date_from are mutually exclusive; "
        "send one of them"
    )
    if fmt == "json":
        assert error_of(response)["errorCode"] == "402119"
        assert error_of(response)["errorMessage"] == message
    else:
        assert b"<errorCode>402119</errorCode>" in response.content
        assert message.encode() in response.content


def test_empty_modify_date_from_is_no_filter(api, institution):
    patron_factory(institution, primary_id="jdoe")

    assert found(api.get(USERS, modify_date_from="", q="primary_id~jdoe")) == ["jdoe"]


@pytest.mark.parametrize("q", ["primary_id~a\x00", "email~\x00", "note_type~\x00", "ALL~\x00"])
def test_q_with_a_nul_character_matches_no_user(api, users, q):
    assert found(api.get(USERS, q=q)) == []
