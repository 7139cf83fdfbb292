"""API key scopes: users:read and users:write for users and jobs, config:write for configuration."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from patronsync.accounts.choices import ApiScope
from patronsync.accounts.services import api_key_create
from patronsync.connections.models import Connection
from patronsync.patrons.models import Patron
from patronsync.patrons.tests.factories import patron_factory, user_json
from patronsync.profiles.models import IntegrationProfile

from .conftest import key_client

pytestmark = pytest.mark.django_db

USERS = "/almaws/v1/users"
SFTP = {
    "name": "campus",
    "transport": "sftp",
    "server": "sftp.uni.edu",
    "username": "library",
    "sub_directory": "out",
}


def client_with(institution, *scopes: str):
    _, key = api_key_create(institution=institution, name="-".join(scopes), scopes=scopes)
    return key_client(key)


def test_read_write_key_writes_users_but_cannot_change_configuration(rw_key, profile):
    api = key_client(rw_key)
    created = api.post("/api/v1/connections", SFTP, format="json")
    assert created.status_code == 403
    assert created.json()["detail"] == "This API key lacks the scope config:write."
    patched = api.patch("/api/v1/profiles/SIS", {"name": "taken"}, format="json")
    assert patched.status_code == 403
    pk = profile.connection_id
    moved = api.patch(f"/api/v1/connections/{pk}", {"sub_directory": "/"}, format="json")
    assert moved.status_code == 403
    assert api.delete(f"/api/v1/connections/{pk}").status_code == 403
    assert not Connection.objects.filter(name="campus").exists()
    assert IntegrationProfile.objects.get().name == "Student Information System"
    run = api.post("/api/v1/profiles/SIS/run", {"kind": "synchronize"}, format="json")
    assert run.status_code == 202


def test_config_write_key_changes_connections_and_profiles(institution, profile):
    api = client_with(institution, ApiScope.USERS_READ, ApiScope.CONFIG_WRITE)
    created = api.post("/api/v1/connections", SFTP, format="json")
    assert created.status_code == 201
    assert created.json()["updated_by"] == "API key users:read-config:write"
    patched = api.patch("/api/v1/profiles/SIS", {"name": "Campus SIS"}, format="json")
    assert patched.status_code == 200
    assert IntegrationProfile.objects.get().name == "Campus SIS"


def test_config_write_key_without_users_write_cannot_run_jobs(institution, profile):
    api = client_with(institution, ApiScope.USERS_READ, ApiScope.CONFIG_WRITE)
    run = api.post("/api/v1/profiles/SIS/run", {"kind": "synchronize"}, format="json")
    assert run.status_code == 403
    assert run.json()["detail"] == "This API key lacks the scope users:write."
    start = api.post("/api/v1/jobs", {"profile": "SIS", "kind": "synchronize"}, format="json")
    assert start.status_code == 403


def test_read_only_key_reads_and_cannot_run_jobs(ro_key, profile):
    api = key_client(ro_key)
    assert api.get("/api/v1/profiles/SIS").status_code == 200
    assert api.get("/api/v1/jobs").status_code == 200
    run = api.post("/api/v1/profiles/SIS/run", {"kind": "synchronize"}, format="json")
    assert run.status_code == 403
    assert run.json()["detail"] == "This API key lacks the scope users:write."


def test_key_without_users_read_reads_nothing(institution, profile):
    api = client_with(institution, ApiScope.CONFIG_WRITE)
    response = api.get("/api/v1/profiles")
    assert response.status_code == 403
    assert response.json()["detail"] == "This API key lacks the scope users:read."
    assert api.get("/api/v1/jobs").status_code == 403


def test_config_write_key_of_one_institution_changes_nothing_of_another(other_institution, profile):
    api = client_with(other_institution, ApiScope.USERS_READ, ApiScope.CONFIG_WRITE)
    response = api.patch("/api/v1/profiles/SIS", {"name": "taken"}, format="json")
    assert response.status_code == 404
    assert IntegrationProfile.objects.get().name == "Student Information System"


def alma(key: str, method: str, path: str, body: dict | None = None):
    headers = {"Authorization": f"apikey {key}", "Accept": "application/json"}
    call = getattr(Client(), method)
    if body is None:
        return call(path, headers=headers)
    return call(path, json.dumps(body), content_type="application/json", headers=headers)


def test_alma_api_reads_need_users_read(institution):
    patron_factory(institution, primary_id="jdoe")
    _, reader = api_key_create(institution=institution, name="r", scopes=[ApiScope.USERS_READ])
    _, config = api_key_create(institution=institution, name="c", scopes=[ApiScope.CONFIG_WRITE])
    assert alma(reader, "get", f"{USERS}/jdoe").status_code == 200
    assert alma(config, "get", f"{USERS}/jdoe").status_code == 401
    assert alma(config, "get", USERS).status_code == 401


def test_alma_api_writes_need_users_write(institution):
    patron_factory(institution, primary_id="jdoe")
    _, reader = api_key_create(institution=institution, name="r", scopes=[ApiScope.USERS_READ])
    _, config = api_key_create(
        institution=institution, name="c", scopes=[ApiScope.USERS_READ, ApiScope.CONFIG_WRITE]
    )
    _, writer = api_key_create(
        institution=institution, name="w", scopes=[ApiScope.USERS_READ, ApiScope.USERS_WRITE]
    )
    for key in (reader, config):
        assert alma(key, "post", USERS, user_json(primary_id="new1")).status_code == 401
        assert alma(key, "delete", f"{USERS}/jdoe").status_code == 401
    assert not Patron.objects.filter(primary_id="new1").exists()
    assert Patron.objects.filter(primary_id="jdoe").exists()
    assert alma(writer, "post", USERS, user_json(primary_id="new1")).status_code == 200
    assert Patron.objects.filter(primary_id="new1").exists()
