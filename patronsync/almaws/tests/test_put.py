"""PUT /users/{id}: Swap All as Alma's API does it, with `override`, roles, segments, accounts."""

from __future__ import annotations

from patronsync.patrons.models import Patron, PatronChange
from patronsync.patrons.services import Actor, patron_update
from patronsync.patrons.tests.factories import patron_factory, user_json

USERS = "/almaws/v1/users"
ROLE = {"status": {"value": "ACTIVE"}, "scope": {"value": "MAIN"}, "role_type": {"value": "200"}}


def error_code(response) -> str:
    return response.json()["errorList"]["error"][0]["errorCode"]


def staff_sets_user_group(patron: Patron, group: str) -> None:
    patron_update(patron=patron, data={"user_group": {"value": group}}, actor=Actor.api("staff"))


def test_put_replaces_fields_and_lists(api, institution):
    patron_factory(institution, primary_id="jdoe", middle_name="Q")
    body = user_json(
        primary_id="jdoe",
        first_name="Janet",
        contact_info={
            "email": [{"email_address": "new@uni.edu", "email_type": [{"value": "work"}]}]
        },
        user_identifier=[],
    )

    response = api.put(f"{USERS}/jdoe", body)

    assert response.status_code == 200
    out = response.json()
    assert out["first_name"] == "Janet"
    assert "middle_name" not in out
    assert [e["email_address"] for e in out["contact_info"]["email"]] == ["new@uni.edu"]
    assert "address" not in out["contact_info"]
    assert "user_identifier" not in out
    assert PatronChange.objects.filter(primary_id="jdoe", action="updated").get().actor_label == (
        "API key sis"
    )


def test_put_keeps_manually_changed_protected_field_of_external_user(api, institution):
    patron = patron_factory(institution, primary_id="jdoe")
    staff_sets_user_group(patron, "FACULTY")

    response = api.put(
        f"{USERS}/jdoe", user_json(primary_id="jdoe", user_group={"value": "UNDERGRAD"})
    )

    assert response.json()["user_group"]["value"] == "FACULTY"


def test_put_with_override_replaces_manually_changed_protected_field(api, institution):
    patron = patron_factory(institution, primary_id="jdoe")
    staff_sets_user_group(patron, "FACULTY")

    response = api.put(
        f"{USERS}/jdoe",
        user_json(primary_id="jdoe", user_group={"value": "UNDERGRAD"}),
        query="override=user_group,job_category",
    )

    assert response.json()["user_group"]["value"] == "UNDERGRAD"


def test_put_keeps_protected_field_that_the_request_leaves_empty(api, institution):
    patron_factory(institution, primary_id="jdoe")
    body = user_json(primary_id="jdoe")
    del body["user_group"]

    response = api.put(f"{USERS}/jdoe", body)

    assert response.json()["user_group"]["value"] == "GRAD"


def test_put_replaces_protected_fields_of_internal_user(api, institution):
    patron_factory(institution, primary_id="staff1", account_type="INTERNAL", external_id="")
    body = user_json(primary_id="staff1", account_type="INTERNAL", external_id="")
    del body["user_group"]

    response = api.put(f"{USERS}/staff1", body)

    assert response.status_code == 200
    assert "user_group" not in response.json()


def test_put_keeps_roles_when_request_has_none(api, institution):
    patron_factory(institution, primary_id="jdoe", user_role=[ROLE])

    response = api.put(f"{USERS}/jdoe", user_json(primary_id="jdoe"))

    assert response.json()["user_role"][0]["role_type"]["value"] == "200"


def test_put_replaces_roles_when_request_sends_them(api, institution):
    patron_factory(institution, primary_id="jdoe", user_role=[ROLE])
    new_role = {**ROLE, "role_type": {"value": "51"}}

    response = api.put(f"{USERS}/jdoe", user_json(primary_id="jdoe", user_role=[new_role]))

    assert [r["role_type"]["value"] for r in response.json()["user_role"]] == ["51"]


def test_put_stores_internal_and_external_segments_as_sent(api, institution):
    patron_factory(institution, primary_id="jdoe")
    emails = [
        {
            "email_address": "sis@uni.edu",
            "email_type": [{"value": "school"}],
            "segment_type": "External",
        },
        {
            "email_address": "mine@home.net",
            "email_type": [{"value": "personal"}],
            "segment_type": "Internal",
            "preferred": True,
        },
    ]

    response = api.put(
        f"{USERS}/jdoe", user_json(primary_id="jdoe", contact_info={"email": emails})
    )

    stored = Patron.objects.get(primary_id="jdoe").segments["email"]
    assert [(e["email_address"], e["segment_type"]) for e in stored] == [
        ("sis@uni.edu", "External"),
        ("mine@home.net", "Internal"),
    ]
    assert response.json()["contact_info"]["email"][1]["segment_type"] == "Internal"


def test_put_cannot_change_the_external_id(api, institution):
    patron_factory(institution, primary_id="jdoe", external_id="SIS")

    response = api.put(f"{USERS}/jdoe", user_json(primary_id="jdoe", external_id="OTHER_SIS"))

    assert response.status_code == 400
    assert error_code(response) == "401858"
    assert response.json()["errorList"]["error"][0]["errorMessage"] == (
        "The external id in DB does not fit the given value in xml - external id cannot be updated"
    )
    assert Patron.objects.get(primary_id="jdoe").external_id == "SIS"


def test_put_without_external_id_keeps_it(api, institution):
    patron_factory(institution, primary_id="jdoe", external_id="SIS")

    response = api.put(f"{USERS}/jdoe", user_json(primary_id="jdoe", external_id=""))

    assert response.json()["external_id"] == "SIS"


def test_put_turns_internal_user_external(api, institution):
    patron_factory(institution, primary_id="staff1", account_type="INTERNAL", external_id="")

    response = api.put(
        f"{USERS}/staff1",
        user_json(primary_id="staff1", account_type={"value": "EXTERNAL"}, external_id="SIS"),
    )

    assert response.status_code == 200
    patron = Patron.objects.get(primary_id="staff1")
    assert (patron.account_type, patron.external_id) == ("EXTERNAL", "SIS")


def test_put_turning_internal_user_external_needs_an_external_id(api, institution):
    patron_factory(institution, primary_id="staff1", account_type="INTERNAL", external_id="")

    response = api.put(
        f"{USERS}/staff1",
        user_json(primary_id="staff1", account_type={"value": "EXTERNAL"}, external_id=""),
    )

    assert error_code(response) == "401854"


def test_put_refuses_to_turn_external_user_internal(api, institution):
    patron_factory(institution, primary_id="jdoe")

    response = api.put(
        f"{USERS}/jdoe",
        user_json(primary_id="jdoe", account_type={"value": "INTERNAL"}, external_id=""),
    )

    assert response.status_code == 400
    assert error_code(response) == "401859"
    assert Patron.objects.get(primary_id="jdoe").account_type == "EXTERNAL"


def test_put_on_missing_user_answers_401861(api):
    response = api.put(f"{USERS}/nobody", user_json(primary_id="nobody"))

    assert error_code(response) == "401861"


def test_put_with_unreadable_body_answers_401676(api, institution):
    patron_factory(institution, primary_id="jdoe")

    response = api.put(f"{USERS}/jdoe", "{")

    assert error_code(response) == "401676"


def test_put_taking_another_users_identifier_answers_401851_and_changes_nothing(api, institution):
    patron_factory(
        institution,
        primary_id="other",
        user_identifier=[{"id_type": {"value": "BARCODE"}, "value": "TAKEN"}],
    )
    patron_factory(institution, primary_id="jdoe")
    body = user_json(
        primary_id="jdoe",
        first_name="Changed",
        user_identifier=[{"id_type": {"value": "BARCODE"}, "value": "TAKEN"}],
    )

    response = api.put(f"{USERS}/jdoe", body)

    assert error_code(response) == "401851"
    assert Patron.objects.get(primary_id="jdoe").first_name == "Ada"
