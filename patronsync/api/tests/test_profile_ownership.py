"""A profile's field ownership and protection mode through the API."""

from __future__ import annotations

import pytest

from patronsync.profiles.models import IntegrationProfile

pytestmark = pytest.mark.django_db


def test_ownership_and_protection_are_read_and_changed(admin_api, viewer_api, profile):
    item = viewer_api.get("/api/v1/profiles/SIS").json()
    assert (item["sync_ownership"], item["sync_protection"]) == ({}, "alma")
    changed = admin_api.patch(
        "/api/v1/profiles/SIS",
        {
            "sync_ownership": {"email": "library", "expiry_date": "preserve_if_empty"},
            "sync_protection": "sticky",
        },
        format="json",
    )
    assert changed.status_code == 200, changed.content
    stored = IntegrationProfile.objects.get(code="SIS")
    assert stored.sync_ownership == {"email": "library", "expiry_date": "preserve_if_empty"}
    assert stored.sync_protection == "sticky"
    item = viewer_api.get("/api/v1/profiles/SIS").json()
    assert item["sync_ownership"]["email"] == "library"
    assert item["sync_protection"] == "sticky"


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ({"sync_ownership": {"favourite_colour": "library"}}, "favourite_colour: not a field"),
        ({"sync_ownership": {"email": "staff"}}, "email: 'staff' is not an owner"),
        ({"sync_ownership": {"user_identifier": "library"}}, "user_identifier: identifiers"),
        ({"sync_protection": "forever"}, "forever"),
    ],
)
def test_bad_ownership_or_protection_is_refused_naming_the_setting(
    admin_api, profile, value, words
):
    response = admin_api.patch("/api/v1/profiles/SIS", value, format="json")
    assert response.status_code == 400
    [field] = value
    assert words in " ".join(response.json()[field])
    stored = IntegrationProfile.objects.get(code="SIS")
    assert (stored.sync_ownership, stored.sync_protection) == ({}, "alma")


def test_a_viewer_cannot_change_ownership(viewer_api, profile):
    response = viewer_api.patch(
        "/api/v1/profiles/SIS", {"sync_ownership": {"email": "library"}}, format="json"
    )
    assert response.status_code == 403
    assert IntegrationProfile.objects.get(code="SIS").sync_ownership == {}
