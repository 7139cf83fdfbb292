"""The Users API in Alma's JSON form: create, get, search, delete, and the documented errors."""

from __future__ import annotations

import pytest

from patronsync.patrons.models import Patron, PatronChange
from patronsync.patrons.tests.factories import patron_factory, user_json

USERS = "/almaws/v1/users"


def error_code(response) -> str:
    return response.json()["errorList"]["error"][0]["errorCode"]


def test_post_creates_user_and_answers_it_in_alma_json_shape(api, institution):
    response = api.post(USERS, user_json(primary_id="jdoe", first_name="Jane"))

    assert response.status_code == 200
    body = response.json()
    assert body["primary_id"] == "jdoe"
    assert body["user_group"] == {"value": "GRAD", "desc": "Graduate student"}
    assert body["contact_info"]["email"][0]["email_address"].endswith("@example.edu")
    assert body["contact_info"]["email"][0]["email_type"] == [{"value": "school", "desc": "School"}]
    assert body["contact_info"]["email"][0]["preferred"] is True
    assert body["user_identifier"][0]["id_type"] == {"value": "BARCODE", "desc": "Barcode"}
    assert body["user_identifier"][0]["segment_type"] == "External"
    assert body["expiry_date"] == "2030-01-31Z"
    assert body["link"] == "http://testserver/almaws/v1/users/jdoe"
    assert Patron.objects.filter(institution=institution, primary_id="jdoe").exists()


def test_post_records_history_with_the_key_as_actor(api, institution):
    api.post(USERS, user_json(primary_id="jdoe"))

    change = PatronChange.objects.get(primary_id="jdoe")
    assert change.action == "created"
    assert change.actor_kind == "api"
    assert change.actor_label == "API key sis"


def test_post_accepts_bare_strings_for_code_fields(api):
    response = api.post(USERS, user_json(primary_id="bare", user_group="GRAD"))

    assert response.status_code == 200
    assert response.json()["user_group"]["value"] == "GRAD"


def test_get_returns_the_user_without_pin_or_password(api, institution):
    patron_factory(institution, primary_id="jdoe", pin_number="1234")

    body = api.get(f"{USERS}/jdoe").json()

    assert body["primary_id"] == "jdoe"
    assert "pin_number" not in body
    assert "password" not in body
    assert "1234" not in str(body)


def test_get_finds_user_by_identifier_with_user_id_type(api, institution):
    patron_factory(
        institution,
        primary_id="jdoe",
        user_identifier=[{"id_type": {"value": "BARCODE"}, "value": "B777"}],
    )

    by_type = api.get(f"{USERS}/B777", user_id_type="BARCODE")
    by_any = api.get(f"{USERS}/B777")

    assert by_type.json()["primary_id"] == "jdoe"
    assert by_any.json()["primary_id"] == "jdoe"


def test_get_brief_view_keeps_core_emails_identifiers_and_statistics(api, institution):
    patron_factory(institution, primary_id="jdoe")

    body = api.get(f"{USERS}/jdoe", view="brief").json()

    assert body["contact_info"] == {"email": body["contact_info"]["email"]}
    assert body["user_identifier"]
    assert body["user_statistic"]


def test_get_expand_adds_zero_counters_with_links(api, institution):
    patron_factory(institution, primary_id="jdoe")

    body = api.get(f"{USERS}/jdoe", expand="loans,fees").json()

    assert body["loans"] == {"value": 0, "link": "http://testserver/almaws/v1/users/jdoe/loans"}
    assert body["fees"]["value"] == 0
    assert "requests" not in body


def test_get_missing_user_answers_400_with_401861(api):
    response = api.get(f"{USERS}/nobody")

    assert response.status_code == 400
    body = response.json()
    assert body["errorsExist"] is True
    assert body["result"] is None
    error = body["errorList"]["error"][0]
    assert error["errorCode"] == "401861"
    assert error["errorMessage"] == "User with identifier nobody was not found."
    assert error["trackingId"].startswith("E01-")


def test_get_missing_user_of_a_type_answers_401890(api):
    response = api.get(f"{USERS}/nobody", user_id_type="BARCODE")

    assert response.status_code == 400
    assert error_code(response) == "401890"
    assert (
        "of type BARCODE was not found" in response.json()["errorList"]["error"][0]["errorMessage"]
    )


def test_list_answers_brief_users_with_links_and_total(api, institution):
    for n in range(3):
        patron_factory(institution, primary_id=f"u{n}", last_name=f"Zed{n}")

    body = api.get(USERS, limit="2").json()

    assert body["total_record_count"] == 3
    assert [u["primary_id"] for u in body["user"]] == ["u0", "u1"]
    assert body["user"][0]["link"] == "http://testserver/almaws/v1/users/u0"
    assert "contact_info" not in body["user"][0]


def test_list_pages_with_offset(api, institution):
    for n in range(3):
        patron_factory(institution, primary_id=f"u{n}", last_name=f"Zed{n}")

    body = api.get(USERS, limit="2", offset="2").json()

    assert [u["primary_id"] for u in body["user"]] == ["u2"]
    assert body["total_record_count"] == 3


def test_list_expand_full_gives_whole_users(api, institution):
    patron_factory(institution, primary_id="jdoe")

    body = api.get(USERS, expand="full").json()

    assert body["user"][0]["contact_info"]["email"]


def test_list_orders_by_the_given_fields(api, institution):
    patron_factory(institution, primary_id="a", first_name="Zoe", last_name="Same")
    patron_factory(institution, primary_id="b", first_name="Amy", last_name="Same")

    default = api.get(USERS).json()["user"]
    by_id_desc = api.get(USERS, order_by="primary_id desc").json()["user"]

    assert [u["primary_id"] for u in default] == ["b", "a"]
    assert [u["primary_id"] for u in by_id_desc] == ["b", "a"]
    assert [u["primary_id"] for u in api.get(USERS, order_by="primary_id").json()["user"]] == [
        "a",
        "b",
    ]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("primary_id~jdo", ["jdoe"]),
        ("first_name~jan", ["jdoe"]),
        ("last_name~smith", ["jdoe"]),
        ("email~jane@uni", ["jdoe"]),
        ("identifiers~b900", ["jdoe"]),
        ("user_group~FACULTY", ["other"]),
        ("ALL~smith", ["jdoe"]),
        ("ALL~b901", ["other"]),
        ("first_name~jan AND last_name~smith", ["jdoe"]),
        ("first_name~jan AND last_name~jones", []),
        ("first_name~jan OR first_name~bob", ["jdoe", "other"]),
    ],
)
def test_list_searches_with_q(api, institution, q, expected):
    patron_factory(
        institution,
        primary_id="jdoe",
        first_name="Jane",
        last_name="Smith",
        contact_info={"email": [{"email_address": "jane@uni.edu", "email_type": "school"}]},
        user_identifier=[{"id_type": {"value": "BARCODE"}, "value": "B900"}],
    )
    patron_factory(
        institution,
        primary_id="other",
        first_name="Bob",
        last_name="Taylor",
        user_group={"value": "FACULTY"},
        user_identifier=[{"id_type": {"value": "BARCODE"}, "value": "B901"}],
    )

    body = api.get(USERS, q=q).json()

    assert sorted(u["primary_id"] for u in body["user"]) == expected
    assert body["total_record_count"] == len(expected)


@pytest.mark.parametrize(
    "params",
    [
        {"q": "nonsense"},
        {"q": "shoe_size~42"},
        {"limit": "101"},
        {"limit": "x"},
        {"offset": "-1"},
        {"order_by": "birth_date"},
    ],
)
def test_list_rejects_bad_parameters_with_402119(api, params):
    response = api.get(USERS, **params)

    assert response.status_code == 400
    assert error_code(response) == "402119"


def test_delete_answers_204_and_removes_the_user(api, institution):
    patron_factory(institution, primary_id="jdoe")

    response = api.delete(f"{USERS}/jdoe")

    assert response.status_code == 204
    assert not Patron.objects.filter(primary_id="jdoe").exists()
    assert PatronChange.objects.filter(primary_id="jdoe", action="deleted").get().actor_label == (
        "API key sis"
    )


def test_delete_of_missing_user_answers_401890_for_a_type(api):
    response = api.delete(f"{USERS}/nobody", query="user_id_type=primary_id")

    assert response.status_code == 400
    assert error_code(response) == "401890"


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"primary_id": ""}, "401664"),
        ({"user_group": {"value": "ASTRONAUT"}}, "401852"),
        ({"account_type": {"value": "INTERNAL"}, "external_id": "SIS"}, "401853"),
        ({"account_type": {"value": "EXTERNAL"}, "external_id": ""}, "401854"),
        ({"account_type": {"value": "SOMETIMES"}}, "401857"),
        ({"account_type": {"value": "INTERNAL"}, "external_id": "", "password": "short"}, "500038"),
        ({"contact_info": {"email": [{"email_type": [{"value": "school"}]}]}}, "401664"),
    ],
)
def test_post_breaking_a_rule_answers_its_alma_code(api, overrides, code):
    response = api.post(USERS, user_json(**overrides))

    assert response.status_code == 400
    assert error_code(response) == code
    assert not Patron.objects.exists()


def test_post_with_taken_identifier_answers_401851(api, institution):
    patron_factory(institution, user_identifier=[{"id_type": {"value": "BARCODE"}, "value": "B1"}])

    response = api.post(
        USERS, user_json(user_identifier=[{"id_type": {"value": "BARCODE"}, "value": "b1"}])
    )

    assert response.status_code == 400
    assert error_code(response) == "401851"
    assert (
        "User with identifier b1 of type BARCODE already exists"
        in response.json()["errorList"]["error"][0]["errorMessage"]
    )


def test_post_with_taken_primary_id_answers_401851(api, institution):
    patron_factory(institution, primary_id="jdoe")

    response = api.post(USERS, user_json(primary_id="JDOE"))

    assert error_code(response) == "401851"


@pytest.mark.parametrize("body", ["{not json", "[1, 2]", "", '{"contact_info": "nope"}'])
def test_post_with_unreadable_json_answers_401676(api, body):
    response = api.post(USERS, body)

    assert response.status_code == 400
    assert error_code(response) == "401676"


def test_internal_user_can_be_created_with_a_password_that_is_never_returned(api):
    response = api.post(
        USERS,
        user_json(
            primary_id="staff1",
            account_type={"value": "INTERNAL"},
            external_id="",
            password="correct horse battery",
        ),
    )

    assert response.status_code == 200
    assert response.json()["account_type"]["value"] == "INTERNAL"
    assert "password" not in response.json()
    assert Patron.objects.get(primary_id="staff1").password_hash


@pytest.mark.parametrize(
    ("user_id", "user_id_type", "code"),
    [("jdoe\x00", "", "401861"), ("jdoe", "BARCODE\x00", "401890")],
)
def test_identifier_with_a_nul_character_is_not_found_and_nothing_is_deleted(
    api, institution, user_id, user_id_type, code
):
    patron_factory(institution, primary_id="jdoe")
    query = f"user_id_type={user_id_type}" if user_id_type else ""

    fetched = api.get(f"{USERS}/{user_id}", **({"user_id_type": user_id_type} if query else {}))
    deleted = api.delete(f"{USERS}/{user_id}", query=query)

    assert (fetched.status_code, error_code(fetched)) == (400, code)
    assert (deleted.status_code, error_code(deleted)) == (400, code)
    assert Patron.objects.filter(primary_id="jdoe").exists()
