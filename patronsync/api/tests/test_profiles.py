"""Integration profiles through the API: list with filters, read, create, change, by code."""

from __future__ import annotations

import pytest

from patronsync.profiles.models import IntegrationProfile

pytestmark = pytest.mark.django_db


def new_profile(connection_id, **extra):
    return {
        "code": "HR",
        "name": "Human resources",
        "system": "HR system",
        "connection": connection_id,
        "sync_active": True,
        "sync_input_path": "hr",
        "sync_record_type": "STAFF",
        **extra,
    }


def test_profiles_are_listed_and_filtered_by_integration_type(viewer_api, profile):
    listed = viewer_api.get("/api/v1/profiles").json()
    assert listed["count"] == 1
    item = listed["results"][0]
    assert item["code"] == "SIS"
    assert item["connection_name"] == profile.connection.name
    assert item["sync_input_path"] == "synchronize"
    assert viewer_api.get("/api/v1/profiles?integration_type=USERS").json()["count"] == 1
    assert viewer_api.get("/api/v1/profiles?integration_type=NOPE").status_code == 400


def test_profile_is_read_by_its_code(viewer_api, profile):
    response = viewer_api.get("/api/v1/profiles/SIS")
    assert response.status_code == 200
    assert response.json()["name"] == "Student Information System"
    assert viewer_api.get("/api/v1/profiles/NOPE").status_code == 404


def test_admin_creates_and_changes_a_profile(admin_api, profile):
    created = admin_api.post("/api/v1/profiles", new_profile(profile.connection_id), format="json")
    assert created.status_code == 201, created.content
    assert created.json()["sync_record_type"] == "STAFF"
    assert created.json()["updated_by"] == "admin"

    changed = admin_api.patch("/api/v1/profiles/HR", {"sync_unmatched": "REJECT"}, format="json")
    assert changed.status_code == 200
    assert IntegrationProfile.objects.get(code="HR").sync_unmatched == "REJECT"


def test_profile_code_cannot_change(admin_api, profile):
    response = admin_api.patch("/api/v1/profiles/SIS", {"code": "OTHER"}, format="json")
    assert response.status_code == 400
    assert "code" in response.json()


def test_profile_cannot_use_a_connection_of_another_institution(
    admin_api, other_institution, profile
):
    from patronsync.connections.models import Connection

    foreign = Connection.objects.create(institution=other_institution, name="theirs")
    response = admin_api.post("/api/v1/profiles", new_profile(foreign.pk), format="json")
    assert response.status_code == 400
    assert "connection" in response.json()


def test_invalid_choice_is_refused(admin_api, profile):
    response = admin_api.patch("/api/v1/profiles/SIS", {"sync_schedule": "NEVER"}, format="json")
    assert response.status_code == 400


def test_unknown_match_id_type_is_refused_with_the_allowed_values(admin_api, profile):
    response = admin_api.post(
        "/api/v1/profiles",
        new_profile(profile.connection_id, sync_match_id_type="UNIV-ID"),
        format="json",
    )
    assert response.status_code == 400
    message = " ".join(response.json()["sync_match_id_type"])
    assert "'UNIV-ID' is neither PRIMARY_ID nor an identifier type of institution main" in message
    assert "did you mean UNIV_ID?" in message
    assert "BARCODE, UNIV_ID" in message
    assert not IntegrationProfile.objects.filter(code="HR").exists()
    changed = admin_api.patch(
        "/api/v1/profiles/SIS", {"sync_match_id_type": "UNIV-ID"}, format="json"
    )
    assert changed.status_code == 400
    assert IntegrationProfile.objects.get(code="SIS").sync_match_id_type == "PRIMARY_ID"


@pytest.mark.parametrize("match_id_type", ["PRIMARY_ID", "UNIV_ID", "BARCODE"])
def test_primary_id_or_an_identifier_type_is_taken_as_match_id_type(
    admin_api, profile, match_id_type
):
    response = admin_api.patch(
        "/api/v1/profiles/SIS", {"sync_match_id_type": match_id_type}, format="json"
    )
    assert response.status_code == 200, response.content
    assert IntegrationProfile.objects.get(code="SIS").sync_match_id_type == match_id_type


@pytest.mark.parametrize("field", ["import_xsd_version", "sync_xsd_version"])
def test_xsd_version_other_than_2_is_refused(admin_api, profile, field):
    response = admin_api.patch("/api/v1/profiles/SIS", {field: "1"}, format="json")
    assert response.status_code == 400
    assert "expected 2" in " ".join(response.json()[field])
    assert getattr(IntegrationProfile.objects.get(code="SIS"), field) == "2"


def test_input_path_leaving_a_connection_without_navigation_is_refused(admin_api, profile):
    profile.connection.allow_navigation = False
    profile.connection.save()
    response = admin_api.patch(
        "/api/v1/profiles/SIS", {"sync_input_path": "../other"}, format="json"
    )
    assert response.status_code == 400
    assert "leaves the sub-directory" in " ".join(response.json()["sync_input_path"])
    assert IntegrationProfile.objects.get(code="SIS").sync_input_path == "synchronize"
    inside = admin_api.patch("/api/v1/profiles/SIS", {"sync_input_path": "a/b"}, format="json")
    assert inside.status_code == 200


def test_subscribers_are_a_list_of_addresses_in_and_out(admin_api, profile):
    assert admin_api.get("/api/v1/profiles/SIS").json()["subscribers"] == []

    changed = admin_api.patch(
        "/api/v1/profiles/SIS",
        {"subscribers": ["registrar@example.edu", " it-desk@example.edu "]},
        format="json",
    )

    assert changed.status_code == 200, changed.content
    assert changed.json()["subscribers"] == ["registrar@example.edu", "it-desk@example.edu"]
    profile.refresh_from_db()
    assert profile.subscribers == "registrar@example.edu\nit-desk@example.edu"
    assert admin_api.get("/api/v1/profiles/SIS").json()["subscribers"] == [
        "registrar@example.edu",
        "it-desk@example.edu",
    ]
    emptied = admin_api.patch("/api/v1/profiles/SIS", {"subscribers": []}, format="json")
    assert emptied.json()["subscribers"] == []
    profile.refresh_from_db()
    assert profile.subscribers == ""


def test_a_new_profile_takes_its_subscribers(admin_api, profile):
    created = admin_api.post(
        "/api/v1/profiles",
        new_profile(profile.connection_id, subscribers=["hr-office@example.edu"]),
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["subscribers"] == ["hr-office@example.edu"]
    assert IntegrationProfile.objects.get(code="HR").subscribers == "hr-office@example.edu"


@pytest.mark.parametrize(
    ("subscribers", "named"),
    [(["registrar@example.edu", "not-an-address"], "'not-an-address'"), (["a@b"], "'a@b'")],
)
def test_a_bad_subscriber_address_is_a_400_naming_it(admin_api, profile, subscribers, named):
    response = admin_api.patch("/api/v1/profiles/SIS", {"subscribers": subscribers}, format="json")

    assert response.status_code == 400, response.content
    [message] = response.json()["subscribers"]
    assert message.startswith(f"Not an email address: {named}; expected one address per line")
    profile.refresh_from_db()
    assert profile.subscribers == ""


def test_subscribers_are_a_list_not_a_text(admin_api, profile):
    response = admin_api.patch(
        "/api/v1/profiles/SIS", {"subscribers": "registrar@example.edu"}, format="json"
    )
    assert response.status_code == 400
    assert "subscribers" in response.json()
