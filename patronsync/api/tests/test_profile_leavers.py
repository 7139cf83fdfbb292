"""A profile's leavers settings through the API: read, set, refused naming the setting."""

from __future__ import annotations

import pytest

from patronsync.profiles.models import IntegrationProfile

pytestmark = pytest.mark.django_db


def test_leavers_are_read_and_set_with_their_defaults(admin_api, viewer_api, profile):
    assert viewer_api.get("/api/v1/profiles/SIS").json()["sync_leavers"] == {}
    changed = admin_api.patch(
        "/api/v1/profiles/SIS",
        {"sync_leavers": {"complete_snapshot": True, "expire_after_days": 14}},
        format="json",
    )
    assert changed.status_code == 200, changed.content
    expected = {"complete_snapshot": True, "expire_after_days": 14, "expiry_grace_days": 30}
    assert IntegrationProfile.objects.get(code="SIS").sync_leavers == expected
    assert viewer_api.get("/api/v1/profiles/SIS").json()["sync_leavers"] == expected


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ({"expire_after_runs": 3}, "sync_leavers.expire_after_runs: a leaver rule needs a feed"),
        ({"complete_snapshot": True, "expire_after_runs": -2}, "sync_leavers.expire_after_runs"),
        ({"complete_snapshot": True, "grace": 3}, "unknown key(s) grace"),
    ],
)
def test_a_leaver_rule_that_makes_no_sense_is_refused(admin_api, profile, value, words):
    response = admin_api.patch("/api/v1/profiles/SIS", {"sync_leavers": value}, format="json")
    assert response.status_code == 400
    assert words in " ".join(response.json()["sync_leavers"])
    assert IntegrationProfile.objects.get(code="SIS").sync_leavers == {}


def test_a_viewer_cannot_change_leavers(viewer_api, profile):
    response = viewer_api.patch(
        "/api/v1/profiles/SIS", {"sync_leavers": {"complete_snapshot": True}}, format="json"
    )
    assert response.status_code == 403
    assert IntegrationProfile.objects.get(code="SIS").sync_leavers == {}
