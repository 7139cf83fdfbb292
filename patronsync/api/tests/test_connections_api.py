"""The Allowed S/FTP Connections and the S/FTP definitions' actions through the API: the table,
the implementation rule, the public key, the pinned server key and the connection test."""

from __future__ import annotations

import pytest

from patronsync.accounts.choices import ApiScope
from patronsync.accounts.services import api_key_create
from patronsync.connections.hostkeys import host_key_pin
from patronsync.connections.models import AllowedConnection, Connection
from patronsync.connections.tests.conftest import allowed, sftp_connection, sshd, sshd_server
from patronsync.loader.tests.conftest import write_zip

from .conftest import body_of, key_client

pytestmark = pytest.mark.django_db

__all__ = ["allowed", "sftp_connection", "sshd", "sshd_server"]  # a real sshd's fixtures

SECRET = "api-Pa55word-never-shown"
HOW = (
    "add sftp.example.edu to the Allowed S/FTP Connections table: `allowed_connections:` in the "
    "configuration file, the API or the admin"
)


def sftp(**extra):
    return {
        "name": "campus",
        "transport": "sftp",
        "server": "sftp.example.edu",
        "username": "library",
        **extra,
    }


@pytest.fixture
def implementing(settings):
    settings.PATRONSYNC_IN_IMPLEMENTATION = "*"
    return settings


@pytest.fixture
def config_key_api(institution):
    key = api_key_create(
        institution=institution,
        name="config",
        scopes={ApiScope.USERS_READ, ApiScope.CONFIG_WRITE},
    )[1]
    return key_client(key)


def test_administrator_manages_the_allowed_connections(admin_api):
    created = admin_api.post(
        "/api/v1/allowed-connections",
        {"host": "SFTP.Example.edu.", "description": "Campus S/FTP"},
        format="json",
    )
    assert created.status_code == 201, created.content
    row = created.json()
    assert row["host"] == "sftp.example.edu"
    assert (row["institution"], row["enabled"], row["updated_by"]) == ("main", True, "admin")
    assert {"id", "description", "updated_at"} <= set(row)

    listed = admin_api.get("/api/v1/allowed-connections").json()
    assert [r["host"] for r in listed["results"]] == ["sftp.example.edu"]
    pk = row["id"]
    changed = admin_api.patch(f"/api/v1/allowed-connections/{pk}", {"enabled": False})
    assert changed.status_code == 200
    assert changed.json()["enabled"] is False

    twin = admin_api.post("/api/v1/allowed-connections", {"host": "sftp.EXAMPLE.edu"})
    assert twin.status_code == 400
    assert twin.json() == {"host": ["sftp.example.edu is already in the table."]}

    assert admin_api.delete(f"/api/v1/allowed-connections/{pk}").status_code == 204
    assert not AllowedConnection.objects.exists()


def test_a_bad_host_is_a_400_naming_it(admin_api):
    response = admin_api.post("/api/v1/allowed-connections", {"host": "ftp://x.edu"})
    assert response.status_code == 400
    assert "is not a host name or an IP address" in response.json()["host"][0]


def test_read_only_key_reads_the_table_and_cannot_change_it(ro_key, institution):
    AllowedConnection.objects.create(institution=institution, host="sftp.example.edu")
    api = key_client(ro_key)
    assert api.get("/api/v1/allowed-connections").json()["count"] == 1
    refused = api.post("/api/v1/allowed-connections", {"host": "b.example.edu"})
    assert refused.status_code == 403
    assert refused.json()["detail"] == "This API key lacks the scope config:write."


def test_config_write_key_changes_the_table(config_key_api):
    created = config_key_api.post("/api/v1/allowed-connections", {"host": "b.example.edu"})
    assert created.status_code == 201


def test_another_institution_s_rows_are_not_found(other_admin_api, institution):
    row = AllowedConnection.objects.create(institution=institution, host="sftp.example.edu")
    assert other_admin_api.get(f"/api/v1/allowed-connections/{row.pk}").status_code == 404
    assert other_admin_api.get("/api/v1/allowed-connections").json()["count"] == 0


def test_in_implementation_a_definition_needs_its_server_allowed(implementing, admin_api):
    refused = admin_api.post("/api/v1/connections", sftp(password=SECRET), format="json")
    assert refused.status_code == 400
    message = refused.json()["server"][0]
    assert "Server sftp.example.edu is not an enabled row" in message
    assert HOW in message
    assert SECRET not in body_of(refused)

    admin_api.post("/api/v1/allowed-connections", {"host": "sftp.example.edu"}, format="json")
    created = admin_api.post("/api/v1/connections", sftp(password=SECRET), format="json")
    assert created.status_code == 201, created.content


def test_a_definition_shows_alma_s_fields_its_public_key_and_never_its_secrets(admin_api):
    created = admin_api.post(
        "/api/v1/connections", sftp(password=SECRET, ftp_server_type="UNIX"), format="json"
    )
    assert created.status_code == 201, created.content
    shown = created.json()
    assert shown["port"] == 22
    assert shown["server_secured"] == "SFTP"
    assert shown["ftp_server_type"] == "UNIX"
    assert shown["has_password"] is True
    assert shown["has_private_key"] is True
    assert shown["public_key"].startswith("ssh-ed25519 AAAA")
    assert shown["public_key"].endswith(" patronsync-main-campus")
    assert (shown["host_key_fingerprint"], shown["host_key_pinned_at"]) == ("", None)
    assert "password" not in shown
    assert "private_key" not in shown
    body = body_of(admin_api.get(f"/api/v1/connections/{shown['id']}"))
    assert SECRET not in body
    assert "PRIVATE KEY" not in body

    # Read-only fields sent back are ignored.
    changed = admin_api.patch(
        f"/api/v1/connections/{shown['id']}",
        {"public_key": "ssh-ed25519 forged", "host_key_fingerprint": "SHA256:forged"},
        format="json",
    )
    assert changed.status_code == 200
    connection = Connection.objects.get()
    assert connection.public_key == shown["public_key"]
    assert connection.host_key_fingerprint == ""


def test_the_public_key_is_served_as_plain_text(admin_api):
    pk = admin_api.post("/api/v1/connections", sftp(), format="json").json()["id"]
    response = admin_api.get(f"/api/v1/connections/{pk}/public-key")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode() == Connection.objects.get().public_key + "\n"


def test_a_definition_without_a_key_pair_has_no_public_key(admin_api):
    pk = admin_api.post("/api/v1/connections", sftp(transport="ftps"), format="json").json()["id"]
    response = admin_api.get(f"/api/v1/connections/{pk}/public-key")
    assert response.status_code == 404
    assert "has no key pair" in response.json()["detail"]


def test_testing_a_local_connection_lists_each_profile_folder(admin_api, profile, drop):
    write_zip(drop / "import" / "first.zip", {"a.xml": "<users/>"})
    response = admin_api.post(f"/api/v1/connections/{profile.connection_id}/test")
    assert response.status_code == 200
    assert response.json() == {
        "ok": True,
        "connection": profile.connection.name,
        "fingerprint": "",
        "folders": [
            {"profile": "SIS", "section": "import", "path": "import", "zip_files": 1},
            {"profile": "SIS", "section": "synchronize", "path": "synchronize", "zip_files": 0},
        ],
    }


def test_a_failing_test_says_its_kind_and_message(admin_api, profile, drop):
    (drop / "synchronize").rmdir()
    response = admin_api.post(f"/api/v1/connections/{profile.connection_id}/test")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is False
    assert body["kind"]
    assert "synchronize does not exist" in body["message"]


def test_a_test_of_a_server_not_allowed_says_so(settings, admin_api, institution):
    pk = admin_api.post("/api/v1/connections", sftp(), format="json").json()["id"]
    settings.PATRONSYNC_IN_IMPLEMENTATION = "*"
    body = admin_api.post(f"/api/v1/connections/{pk}/test").json()
    assert (body["ok"], body["kind"]) == (False, "not_allowed")
    assert HOW in body["message"]


def test_trusting_a_local_folder_is_a_conflict(admin_api, profile):
    response = admin_api.post(f"/api/v1/connections/{profile.connection_id}/trust")
    assert response.status_code == 409
    assert "local folder" in response.json()["detail"]


def test_trust_pins_only_the_fingerprint_given_and_without_one_answers_the_servers(
    admin_api, sftp_connection, sshd
):
    url = f"/api/v1/connections/{sftp_connection.pk}/trust"
    old = sshd.fingerprint()
    host_key_pin(connection=sftp_connection, fingerprint=old)
    new = sshd.host_key_new()  # a planned change of the server's key
    try:
        missing = admin_api.post(url, {}, format="json")
        assert missing.status_code == 400
        (message,) = missing.json()["fingerprint"]
        assert message.startswith("This field is required")
        assert f"shows {new} now" in message
        assert Connection.objects.get().host_key_fingerprint == old

        given = "SHA256:" + "B" * 43
        other = admin_api.post(url, {"fingerprint": given}, format="json")
        assert other.status_code == 409
        assert (
            f"the server shows the key {new}, not {given}; nothing was pinned"
            in (other.json()["detail"])
        )
        assert Connection.objects.get().host_key_fingerprint == old

        trusted = admin_api.post(url, {"fingerprint": new}, format="json")
        assert trusted.status_code == 200
        assert trusted.json() == {"fingerprint": new}
        assert Connection.objects.get().host_key_fingerprint == new
    finally:
        sshd.host_key_new()  # the session's server keeps a key no other test pinned


@pytest.mark.parametrize("action", ["test", "trust"])
def test_read_only_key_and_viewer_cannot_test_or_trust(ro_key, viewer_api, profile, action):
    url = f"/api/v1/connections/{profile.connection_id}/{action}"
    refused = key_client(ro_key).post(url)
    assert refused.status_code == 403
    assert refused.json()["detail"] == "This API key lacks the scope config:write."
    assert viewer_api.post(url).status_code == 403


def test_read_only_key_reads_the_public_key(ro_key, admin_api):
    pk = admin_api.post("/api/v1/connections", sftp(), format="json").json()["id"]
    assert key_client(ro_key).get(f"/api/v1/connections/{pk}/public-key").status_code == 200
