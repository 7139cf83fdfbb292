"""Allowed S/FTP Connections: the table, its place in `config apply`, and the implementation
rule: while an institution is in implementation, a definition whose server is not an enabled
row can be neither saved nor used."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from patronsync.cli import main
from patronsync.connections.models import AllowedConnection, Connection
from patronsync.connections.services import (
    allowed_connection_create,
    allowed_connection_update,
    connection_create,
)
from patronsync.connections.transports import transport_for
from patronsync.core.exceptions import ConfigurationError
from patronsync.jobs.choices import JobStatus
from patronsync.jobs.services import profile_run
from patronsync.loader.tests.conftest import drop, make_profile
from patronsync.profiles.services import config_apply

pytestmark = pytest.mark.django_db

__all__ = ["drop"]  # the feed folder fixture of the engine tests

PASSWORD = "a long password 1"
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
    """Every institution is in implementation, as in a new installation."""
    settings.PATRONSYNC_IN_IMPLEMENTATION = "*"
    return settings


def allow(institution, host="sftp.example.edu", **extra) -> AllowedConnection:
    return allowed_connection_create(
        institution=institution, values={"host": host, **extra}, actor="tests"
    )


def test_hosts_are_stored_normalized_and_compared_case_insensitively(institution):
    row = allow(institution, host="  SFTP.Example.EDU. ", description="Campus S/FTP")
    assert row.host == "sftp.example.edu"
    assert row.updated_by == "tests"
    with pytest.raises(ValidationError) as error:
        allow(institution, host="sftp.EXAMPLE.edu")
    assert "host" in error.value.message_dict


def test_a_host_that_is_not_a_host_name_is_refused(institution):
    with pytest.raises(ValidationError) as error:
        allow(institution, host="sftp://sftp.example.edu/out")
    assert "is not a host name or an IP address" in error.value.message_dict["host"][0]
    assert allow(institution, host="192.0.2.10").host == "192.0.2.10"


def test_in_implementation_a_server_not_in_the_table_cannot_be_saved(implementing, institution):
    with pytest.raises(ValidationError) as error:
        connection_create(institution=institution, values=sftp(), actor="tests")
    message = error.value.message_dict["server"][0]
    assert "Server sftp.example.edu is not an enabled row" in message
    assert HOW in message
    assert not Connection.objects.exists()


def test_in_implementation_an_enabled_row_allows_the_server_whatever_its_case(
    implementing, institution
):
    allow(institution)
    connection = connection_create(
        institution=institution, values=sftp(server="SFTP.example.edu."), actor="tests"
    )
    assert connection.pk is not None


def test_a_disabled_row_does_not_allow_the_server(implementing, institution):
    allow(institution, enabled=False)
    with pytest.raises(ValidationError) as error:
        connection_create(institution=institution, values=sftp(), actor="tests")
    assert HOW in error.value.message_dict["server"][0]


def test_out_of_implementation_any_server_may_be_saved(settings, institution, other_institution):
    settings.PATRONSYNC_IN_IMPLEMENTATION = ""
    assert connection_create(institution=institution, values=sftp(), actor="tests").pk
    settings.PATRONSYNC_IN_IMPLEMENTATION = "branch"
    # main is live, branch is in implementation
    assert connection_create(institution=institution, values=sftp(name="two"), actor="t").pk
    with pytest.raises(ValidationError):
        connection_create(institution=other_institution, values=sftp(), actor="tests")


def test_local_connections_are_not_concerned(implementing, institution, tmp_path):
    connection = connection_create(
        institution=institution,
        values={"name": "drop", "transport": "local", "sub_directory": str(tmp_path)},
        actor="tests",
    )
    assert transport_for(connection).list("") == []


def test_a_definition_whose_row_is_disabled_later_cannot_be_used(implementing, institution):
    row = allow(institution)
    connection = connection_create(institution=institution, values=sftp(), actor="tests")
    allowed_connection_update(allowed=row, values={"enabled": False}, actor="tests")
    with pytest.raises(ConfigurationError) as error:
        transport_for(connection)
    assert str(error.value).startswith("Connection campus: Server sftp.example.edu is not")
    assert HOW in str(error.value)


def test_the_job_of_a_profile_on_a_server_not_allowed_fails_saying_how_to_allow_it(
    settings, institution, drop
):
    profile = make_profile(institution, drop)
    connection = profile.connection
    Connection.objects.filter(pk=connection.pk).update(
        transport="sftp", server="sftp.example.edu", port=22, username="library"
    )
    profile.refresh_from_db()
    settings.PATRONSYNC_IN_IMPLEMENTATION = "main"
    job = profile_run(profile=profile, kind="synchronize")
    assert job.status == JobStatus.FAILED
    assert HOW in job.log


# config apply ---------------------------------------------------------------------------------


DOCUMENT = {
    "allowed_connections": [
        {"host": "sftp.example.edu", "description": "Campus S/FTP", "enabled": True},
        {"host": "Backup.Example.edu."},
    ],
    "connections": [
        {"name": "campus", "type": "sftp", "server": "sftp.example.edu", "username": "library"}
    ],
}


def test_config_apply_declares_the_table_before_the_connections_and_twice_changes_nothing(
    implementing, institution
):
    lines = config_apply(
        institution=institution, document=DOCUMENT, source="ps.yaml", actor="config apply"
    )
    assert lines == [
        "allowed connection sftp.example.edu: created",
        "allowed connection backup.example.edu: created",
        "connection campus: created",
    ]
    rows = {row.host: row for row in AllowedConnection.objects.all()}
    assert rows["sftp.example.edu"].description == "Campus S/FTP"
    assert rows["sftp.example.edu"].updated_by == "config apply"
    assert rows["backup.example.edu"].enabled is True
    again = config_apply(institution=institution, document=DOCUMENT, source="ps.yaml")
    assert all(line.endswith(": unchanged") for line in again)
    changed = {"allowed_connections": [{"host": "SFTP.example.edu", "enabled": False}]}
    assert config_apply(institution=institution, document=changed) == [
        "allowed connection sftp.example.edu: updated"
    ]
    assert AllowedConnection.objects.get(host="sftp.example.edu").enabled is False


def test_config_apply_refuses_a_connection_to_a_server_the_file_does_not_allow(
    implementing, institution
):
    document = {"connections": DOCUMENT["connections"]}
    with pytest.raises(ConfigurationError) as error:
        config_apply(institution=institution, document=document, source="ps.yaml")
    assert str(error.value).startswith("ps.yaml: connections[0].server: Server sftp.example.edu")
    assert HOW in str(error.value)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ({"host": "a.edu"}, "ps.yaml: allowed_connections: expected a list of rows"),
        ([{"host": "a.edu", "port": 22}], "ps.yaml: allowed_connections[0]: unknown key(s) port"),
        ([{"description": "x"}], "ps.yaml: allowed_connections[0].host: missing"),
        ([{"host": "a.edu", "enabled": "yes"}], "ps.yaml: allowed_connections[0].enabled: 'yes'"),
        (
            [{"host": "a.edu"}, {"host": "A.EDU."}],
            "ps.yaml: allowed_connections[1].host: 'a.edu' is declared twice; also at "
            "allowed_connections[0]",
        ),
        ([{"host": "a b"}], "ps.yaml: allowed_connections[0].host: 'a b' is not a host name"),
    ],
)
def test_config_apply_names_the_place_of_a_bad_row(institution, rows, message):
    with pytest.raises(ConfigurationError) as error:
        config_apply(
            institution=institution, document={"allowed_connections": rows}, source="ps.yaml"
        )
    assert str(error.value).startswith(message)
    assert not AllowedConnection.objects.exists()


# The admin ------------------------------------------------------------------------------------


@pytest.fixture
def gsa(institution, monkeypatch, capsys) -> Client:
    """A General System Administrator, as `patronsync createadmin` makes one, signed in."""
    monkeypatch.setenv("PATRONSYNC_ADMIN_PASSWORD", PASSWORD)
    assert main(["createadmin", "--username", "boss"]) == 0
    capsys.readouterr()
    client = Client()
    assert client.login(username="boss", password=PASSWORD)
    return client


def test_administrator_adds_an_allowed_connection_in_the_admin(gsa, institution):
    assert gsa.get("/admin/connections/allowedconnection/").status_code == 200
    assert gsa.get("/admin/connections/allowedconnection/add/").status_code == 200
    response = gsa.post(
        "/admin/connections/allowedconnection/add/",
        {
            "institution": institution.pk,
            "enabled": "on",
            "host": "SFTP.example.edu",
            "description": "Campus S/FTP",
        },
    )
    assert response.status_code == 302, response.content[:500]
    row = AllowedConnection.objects.get()
    assert (row.host, row.updated_by) == ("sftp.example.edu", "boss")
    page = gsa.get(f"/admin/connections/allowedconnection/{row.pk}/change/")
    assert page.status_code == 200
    assert "sftp.example.edu" in page.content.decode()


def admin_definition(institution, **extra) -> dict:
    return {
        "institution": institution.pk,
        "name": "campus",
        "description": "",
        "transport": "sftp",
        "server": "sftp.example.edu",
        "port": "",
        "sub_directory": "outgoing",
        "max_files": 20,
        "min_files": 1,
        "max_file_size": 4,
        "size_type": "GB",
        "allow_navigation": "on",
        "ftp_server_type": "DEFAULT",
        "passive_mode": "on",
        "username": "library",
        "password": "",
        "private_key": "",
        **extra,
    }


def test_admin_refuses_a_definition_on_a_server_not_allowed_then_saves_it_once_allowed(
    implementing, gsa, institution
):
    assert gsa.get("/admin/connections/connection/add/").status_code == 200
    refused = gsa.post("/admin/connections/connection/add/", admin_definition(institution))
    assert refused.status_code == 200
    assert "Server sftp.example.edu is not an enabled row" in refused.content.decode()
    assert not Connection.objects.exists()

    allow(institution)
    secret = "admin-Pa55word-never-shown"
    saved = gsa.post(
        "/admin/connections/connection/add/", admin_definition(institution, password=secret)
    )
    assert saved.status_code == 302, saved.content[:800]
    connection = Connection.objects.get()
    assert (connection.port, connection.updated_by) == (22, "boss")
    assert connection.password == secret
    assert connection.public_key.startswith("ssh-ed25519 ")

    page = gsa.get(f"/admin/connections/connection/{connection.pk}/change/").content.decode()
    assert secret not in page
    assert connection.public_key in page
    assert "-----BEGIN" not in page
    # Saving again without a password keeps it.
    kept = gsa.post(
        f"/admin/connections/connection/{connection.pk}/change/",
        admin_definition(institution, port=2222),
    )
    assert kept.status_code == 302, kept.content[:800]
    connection.refresh_from_db()
    assert (connection.port, connection.password) == (2222, secret)
