"""Connections through the API: CRUD, and secrets that go in but never come out."""

from __future__ import annotations

import json

import pytest
from django.db import connection as db

from patronsync.connections.keys import ssh_keypair_new
from patronsync.connections.models import Connection

from .conftest import body_of

pytestmark = pytest.mark.django_db

SECRET = "s3cret-Pa55word-never-shown"
KEY = ssh_keypair_new(comment="")[0]
KEY_BODY = KEY.splitlines()[2]  # a line of the key's base64, never shown


def sftp(**extra):
    return {
        "name": "campus-sftp",
        "transport": "sftp",
        "server": "sftp.uni.edu",
        "port": 22,
        "sub_directory": "outgoing",
        "username": "library",
        **extra,
    }


def test_admin_creates_lists_reads_changes_and_deletes_a_connection(admin_api):
    created = admin_api.post("/api/v1/connections", sftp(), format="json")
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert created.json()["institution"] == "main"
    assert created.json()["updated_by"] == "admin"

    listed = admin_api.get("/api/v1/connections").json()
    assert [c["name"] for c in listed["results"]] == ["campus-sftp"]
    assert admin_api.get(f"/api/v1/connections/{pk}").json()["server"] == "sftp.uni.edu"

    changed = admin_api.patch(f"/api/v1/connections/{pk}", {"port": 2222}, format="json")
    assert changed.status_code == 200
    assert changed.json()["port"] == 2222
    replaced = admin_api.put(f"/api/v1/connections/{pk}", sftp(server="b.uni.edu"), format="json")
    assert replaced.json()["server"] == "b.uni.edu"

    assert admin_api.delete(f"/api/v1/connections/{pk}").status_code == 204
    assert not Connection.objects.exists()


def test_password_and_private_key_are_write_only_and_stored_encrypted(admin_api, caplog):
    caplog.set_level("DEBUG")
    responses = [admin_api.post("/api/v1/connections", sftp(password=SECRET), format="json")]
    pk = responses[0].json()["id"]
    responses.append(
        admin_api.patch(f"/api/v1/connections/{pk}", {"private_key": KEY}, format="json")
    )
    responses.append(admin_api.get(f"/api/v1/connections/{pk}"))
    responses.append(admin_api.get("/api/v1/connections"))
    responses.append(admin_api.patch(f"/api/v1/connections/{pk}", {"port": 0}, format="json"))
    responses.append(admin_api.get("/api/v1/schema"))
    for response in responses:
        body = body_of(response)
        assert SECRET not in body
        assert KEY_BODY not in body
    shown = responses[2].json()
    assert shown["has_password"] is True
    assert shown["has_private_key"] is True
    assert "password" not in shown
    assert "private_key" not in shown

    with db.cursor() as cursor:
        cursor.execute("SELECT password, private_key FROM connections_connection")
        stored_password, stored_key = cursor.fetchone()
    assert stored_password
    assert SECRET not in stored_password
    assert KEY_BODY not in stored_key
    assert Connection.objects.get().password == SECRET  # decrypts for the transports
    assert SECRET not in caplog.text
    assert KEY_BODY not in caplog.text


def test_update_without_password_keeps_it_and_empty_string_clears_it(admin_api):
    pk = admin_api.post("/api/v1/connections", sftp(password=SECRET), format="json").json()["id"]
    admin_api.patch(f"/api/v1/connections/{pk}", {"username": "lib2"}, format="json")
    assert Connection.objects.get().password == SECRET
    cleared = admin_api.patch(f"/api/v1/connections/{pk}", {"password": ""}, format="json")
    assert cleared.json()["has_password"] is False


def test_secrets_are_not_echoed_in_validation_errors(admin_api):
    response = admin_api.post(
        "/api/v1/connections", sftp(password=SECRET, size_type="TB"), format="json"
    )
    assert response.status_code == 400
    assert SECRET not in body_of(response)


def test_duplicate_connection_name_is_a_validation_error(admin_api):
    admin_api.post("/api/v1/connections", sftp(), format="json")
    response = admin_api.post("/api/v1/connections", sftp(), format="json")
    assert response.status_code == 400
    assert "already exists" in json.dumps(response.json())


def test_connection_used_by_a_profile_cannot_be_deleted(admin_api, profile):
    response = admin_api.delete(f"/api/v1/connections/{profile.connection_id}")
    assert response.status_code == 409
    assert "SIS" in response.json()["detail"]


def test_navigation_cannot_be_switched_off_while_a_profile_path_leaves(admin_api, profile):
    profile.sync_input_path = "../elsewhere"
    profile.save()
    pk = profile.connection_id
    response = admin_api.patch(
        f"/api/v1/connections/{pk}", {"allow_navigation": False}, format="json"
    )
    assert response.status_code == 400
    message = " ".join(response.json()["allow_navigation"])
    assert "Profile SIS's synchronize.input_path: '../elsewhere' leaves" in message
    assert Connection.objects.get(pk=pk).allow_navigation is True
    profile.sync_input_path = "synchronize"
    profile.save()
    response = admin_api.patch(
        f"/api/v1/connections/{pk}", {"allow_navigation": False}, format="json"
    )
    assert response.status_code == 200
    assert Connection.objects.get(pk=pk).allow_navigation is False
