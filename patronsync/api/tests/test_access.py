"""Who may do what: roles per institution, institution isolation, API keys."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from patronsync.accounts.choices import ApiScope, StaffRole
from patronsync.accounts.services import api_key_create, api_key_revoke
from patronsync.connections.models import Connection

from .conftest import key_client, staff_client

pytestmark = pytest.mark.django_db

CONNECTION = {"name": "new-folder", "transport": "local", "sub_directory": "/tmp/feeds"}


def test_anonymous_call_is_refused_with_401(profile):
    response = APIClient().get("/api/v1/profiles")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "apikey"


def test_viewer_reads_but_cannot_write(viewer_api, profile):
    assert viewer_api.get("/api/v1/connections").status_code == 200
    assert viewer_api.get("/api/v1/jobs").status_code == 200
    assert viewer_api.post("/api/v1/connections", CONNECTION, format="json").status_code == 403
    patch = viewer_api.patch("/api/v1/profiles/SIS", {"name": "x"}, format="json")
    assert patch.status_code == 403
    run = viewer_api.post("/api/v1/profiles/SIS/run", {"kind": "import"}, format="json")
    assert run.status_code == 403


def test_user_manager_cannot_configure_or_run_jobs(manager_api, profile):
    assert manager_api.get("/api/v1/profiles/SIS").status_code == 200
    assert manager_api.post("/api/v1/connections", CONNECTION, format="json").status_code == 403
    start = {"profile": "SIS", "kind": "synchronize"}
    assert manager_api.post("/api/v1/jobs", start, format="json").status_code == 403


def test_staff_sees_only_the_institutions_it_belongs_to(other_admin_api, profile):
    assert other_admin_api.get("/api/v1/profiles").json()["count"] == 0
    assert other_admin_api.get("/api/v1/connections").json()["count"] == 0
    assert other_admin_api.get("/api/v1/profiles/SIS").status_code == 404
    assert other_admin_api.get(f"/api/v1/connections/{profile.connection_id}").status_code == 404
    patch = other_admin_api.patch("/api/v1/profiles/SIS", {"name": "x"}, format="json")
    assert patch.status_code == 404
    start = other_admin_api.post(
        "/api/v1/jobs", {"profile": "SIS", "kind": "import"}, format="json"
    )
    assert start.status_code == 404


def test_viewer_in_one_institution_and_admin_in_another_writes_only_where_admin(
    institution, other_institution, profile
):
    api = staff_client(
        "mixed",
        {
            institution: StaffRole.VIEWER,
            other_institution: StaffRole.GENERAL_SYSTEM_ADMINISTRATOR,
        },
    )
    assert api.get("/api/v1/profiles").json()["count"] == 1
    assert api.patch("/api/v1/profiles/SIS", {"name": "x"}, format="json").status_code == 403
    created = api.post("/api/v1/connections", CONNECTION, format="json")
    assert created.status_code == 201
    assert created.json()["institution"] == "branch"
    named = api.post("/api/v1/connections", {**CONNECTION, "institution": "main"}, format="json")
    assert named.status_code == 400


def test_config_write_key_reads_and_configures_its_institution(institution, profile):
    _, key = api_key_create(
        institution=institution, name="scripts", scopes=[ApiScope.USERS_READ, ApiScope.CONFIG_WRITE]
    )
    api = key_client(key)
    assert api.get("/api/v1/profiles").json()["count"] == 1
    created = api.post("/api/v1/connections", CONNECTION, format="json")
    assert created.status_code == 201
    assert created.json()["updated_by"] == "API key scripts"


def test_key_in_the_query_string_works(rw_key, profile):
    response = APIClient().get(f"/api/v1/profiles?apikey={rw_key}")
    assert response.json()["count"] == 1


def test_read_only_key_is_refused_on_writes(ro_key, profile):
    api = key_client(ro_key)
    assert api.get("/api/v1/profiles/SIS").status_code == 200
    refused = api.post("/api/v1/connections", CONNECTION, format="json")
    assert refused.status_code == 403
    assert refused.json()["detail"] == "This API key lacks the scope config:write."
    run = api.post("/api/v1/profiles/SIS/run", {"kind": "import"}, format="json")
    assert run.status_code == 403
    assert not Connection.objects.filter(name="new-folder").exists()


def test_key_sees_only_its_institution(other_institution, profile):
    key = api_key_create(institution=other_institution, name="branch", read_only=False)[1]
    api = key_client(key)
    assert api.get("/api/v1/profiles").json()["count"] == 0
    assert api.get("/api/v1/profiles/SIS").status_code == 404


def test_unknown_or_revoked_key_is_refused_with_401(institution, profile):
    assert key_client("ps_nope").get("/api/v1/profiles").status_code == 401
    api_key, key = api_key_create(institution=institution, name="old", read_only=False)
    api_key_revoke(api_key=api_key)
    assert key_client(key).get("/api/v1/profiles").status_code == 401


def test_key_over_its_rate_limit_gets_429(institution, profile):
    key = api_key_create(
        institution=institution, name="busy", read_only=True, rate_limit_per_minute=1
    )[1]
    api = key_client(key)
    assert api.get("/api/v1/profiles").status_code == 200
    limited = api.get("/api/v1/profiles")
    assert limited.status_code == 429
    assert "Retry-After" in limited
