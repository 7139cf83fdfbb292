"""S/FTP definitions: every field of Alma's screen, the rules of a remote definition, Alma's
defaults, and the key pair an sftp definition logs in with."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from django.core.exceptions import ValidationError
from django.db import connection as db

from patronsync.connections.keys import ssh_keypair_new
from patronsync.connections.models import Connection
from patronsync.connections.services import (
    NotSftp,
    connection_create,
    connection_keygen,
    connection_test,
    connection_update,
)
from patronsync.core.exceptions import ConfigurationError
from patronsync.loader.tests.conftest import drop, make_profile, write_zip
from patronsync.profiles.services import config_apply

__all__ = ["drop"]

pytestmark = pytest.mark.django_db


def create(institution, **values) -> Connection:
    return connection_create(institution=institution, values=values, actor="tests")


def remote(transport="sftp", **extra) -> dict:
    return {
        "name": "campus",
        "transport": transport,
        "server": "sftp.example.edu",
        "username": "library",
        **extra,
    }


def errors_of(institution, **values) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as error:
        create(institution, **values)
    return error.value.message_dict


@pytest.mark.parametrize(("transport", "port"), [("sftp", 22), ("ftps", 21), ("ftp", 21)])
def test_a_remote_definition_without_a_port_takes_alma_s_default(institution, transport, port):
    assert create(institution, **remote(transport)).port == port


def test_a_port_given_is_kept(institution):
    assert create(institution, **remote(port=2222)).port == 2222


def test_server_and_username_are_mandatory_for_remote_definitions(institution):
    errors = errors_of(institution, name="campus", transport="ftps")
    assert errors["server"] == ["An FTPS definition needs a server (host name or IP address)."]
    assert errors["username"] == ["An FTPS definition needs the username to log in with."]


@pytest.mark.parametrize(
    ("values", "field", "words"),
    [
        ({"port": 0}, "port", "Port 0 is not a port number; expected 1 to 65535."),
        ({"port": 65536}, "port", "Port 65536 is not a port number; expected 1 to 65535."),
        ({"server": "sftp://h.edu"}, "server", "'sftp://h.edu' is not a host name"),
        ({"server": "-h.edu"}, "server", "'-h.edu' is not a host name"),
        ({"max_files": 0}, "max_files", "The maximum number of files is at least 1."),
        (
            {"min_files": 5, "max_files": 2},
            "min_files",
            "The minimum number of files (5) is more than the maximum (2).",
        ),
        ({"max_file_size": 0}, "max_file_size", "The maximum file size is more than 0."),
        ({"ftp_server_type": "VMS"}, "ftp_server_type", "Value 'VMS' is not a valid choice."),
    ],
)
def test_values_outside_the_rules_are_refused_naming_the_field(institution, values, field, words):
    errors = errors_of(institution, **remote(**values))
    assert words in " ".join(errors[field])


def test_ip_addresses_and_trailing_dots_are_servers(institution):
    assert create(institution, **remote(server="192.0.2.10")).server == "192.0.2.10"
    assert create(institution, **remote(name="six", server="2001:db8::1")).pk
    assert create(institution, **remote(name="dot", server=" sftp.example.edu. ")).server == (
        "sftp.example.edu."
    )


def test_every_field_of_alma_s_screen_is_kept(institution):
    connection = create(
        institution,
        **remote(
            "ftp",
            description="Registrar's server",
            port=2121,
            sub_directory="outgoing/alma",
            max_files=5,
            min_files=2,
            max_file_size=300,
            size_type="MB",
            allow_navigation=False,
            ftp_server_type="WINDOWS",
            passive_mode=False,
            password="secret",
        ),
    )
    connection.refresh_from_db()
    assert (connection.description, connection.port, connection.sub_directory) == (
        "Registrar's server",
        2121,
        "outgoing/alma",
    )
    assert (connection.max_files, connection.min_files) == (5, 2)
    assert connection.max_file_bytes == 300 * 1024**2
    assert connection.allow_navigation is False
    assert connection.passive_mode is False
    assert connection.ftp_server_type_label == "Windows"
    assert connection.password == "secret"


@pytest.mark.parametrize(
    ("transport", "secured"), [("sftp", "SFTP"), ("ftps", "FTPS"), ("ftp", "None")]
)
def test_ftp_server_secured_follows_the_transport(institution, transport, secured):
    connection = create(institution, **remote(transport))
    assert connection.server_secured_label == secured
    assert connection.ftp_server_type_label == "Default FTP"


# Key pair -------------------------------------------------------------------------------------


def stored_private_key() -> str:
    with db.cursor() as cursor:
        cursor.execute("SELECT private_key FROM connections_connection")
        return cursor.fetchone()[0]


def test_a_new_sftp_definition_gets_its_own_ed25519_key_pair(institution):
    connection = create(institution, **remote())
    public = connection.public_key
    assert public.startswith("ssh-ed25519 AAAA")
    assert public.endswith(" patronsync-main-campus")
    assert "\n" not in public
    private = Connection.objects.get().private_key
    key = serialization.load_ssh_private_key(private.encode(), password=None)
    derived = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    assert public.split()[:2] == derived.decode().split()
    assert "PRIVATE KEY" not in stored_private_key()  # encrypted at rest


@pytest.mark.parametrize("transport", ["ftp", "ftps"])
def test_ftp_definitions_get_no_key_pair(institution, transport):
    connection = create(institution, **remote(transport))
    assert (connection.public_key, connection.private_key) == ("", "")


def test_a_given_private_key_replaces_the_pair_and_its_public_key_is_derived(institution):
    connection = create(institution, **remote())
    private, public = ssh_keypair_new(comment="")
    connection_update(connection=connection, values={"private_key": private}, actor="tests")
    connection.refresh_from_db()
    assert connection.private_key == private
    assert connection.public_key == f"{public} patronsync-main-campus"


def test_an_unreadable_private_key_is_refused_without_showing_it(institution):
    errors = errors_of(institution, **remote(private_key="not-a-key-Secret-Material"))
    assert "is not an OpenSSH or PEM private key" in errors["private_key"][0]
    assert "Secret-Material" not in str(errors)


def test_keygen_makes_a_new_pair(institution):
    connection = create(institution, **remote())
    before = connection.public_key
    connection_keygen(connection=connection, actor="tests")
    connection.refresh_from_db()
    assert connection.public_key != before
    assert connection.public_key.endswith(" patronsync-main-campus")
    local = create(institution, name="drop", transport="local", sub_directory="/tmp")
    with pytest.raises(NotSftp):
        connection_keygen(connection=local, actor="tests")


def test_an_sftp_definition_in_the_configuration_file_keeps_its_key_pair_when_applied_again(
    institution,
):
    document = {"connections": [{"name": "campus", "type": "sftp", "server": "h.example.edu",
                                 "username": "library", "server_type": "UNIX"}]}  # fmt: skip
    assert config_apply(institution=institution, document=document) == [
        "connection campus: created"
    ]
    connection = Connection.objects.get()
    assert (connection.port, connection.ftp_server_type) == (22, "UNIX")
    public = connection.public_key
    assert config_apply(institution=institution, document=document) == [
        "connection campus: unchanged"
    ]
    assert Connection.objects.get().public_key == public


def test_a_private_key_in_the_configuration_file_is_used_and_applied_twice_changes_nothing(
    institution,
):
    private, public = ssh_keypair_new(comment="")
    item = {"name": "campus", "type": "sftp", "server": "h.example.edu", "username": "lib"}
    document = {"connections": [{**item, "private_key": private}]}
    config_apply(institution=institution, document=document)
    assert Connection.objects.get().public_key == f"{public} patronsync-main-campus"
    assert config_apply(institution=institution, document=document) == [
        "connection campus: unchanged"
    ]


def test_configuration_file_errors_of_a_definition_name_their_place(institution):
    bad = {"name": "campus", "type": "sftp", "server": "h.example.edu", "username": "lib"}
    cases = [
        ({**bad, "private_key": "Secret-Material"}, "connections[0].private_key: The private"),
        ({**bad, "port": 70000}, "connections[0].port: Port 70000 is not a port number"),
        ({**bad, "server_type": "VMS"}, "connections[0]: ftp_server_type is 'VMS'; expected"),
        ({"name": "campus", "type": "ftp"}, "connections[0]: server: An FTP definition needs"),
    ]
    for item, words in cases:
        with pytest.raises(ConfigurationError) as error:
            config_apply(institution=institution, document={"connections": [item]}, source="f")
        assert str(error.value).startswith(f"f: {words}"), str(error.value)
        assert "Secret-Material" not in str(error.value)
    assert not Connection.objects.exists()


# Test connection ------------------------------------------------------------------------------


def test_testing_a_local_connection_counts_the_zips_of_each_profile_folder(institution, drop):
    profile = make_profile(institution, drop)
    write_zip(drop / "synchronize" / "a.zip", {"a.xml": "<users/>"})
    write_zip(drop / "synchronize" / "b.zip", {"b.xml": "<users/>"})
    (drop / "synchronize" / "old.zip.handled").write_text("")
    result = connection_test(connection=profile.connection)
    assert result.ok is True
    assert result.fingerprint == ""
    assert result.as_dict()["folders"] == [
        {"profile": "SIS", "section": "import", "path": "import", "zip_files": 0},
        {"profile": "SIS", "section": "synchronize", "path": "synchronize", "zip_files": 2},
    ]


def test_testing_a_connection_whose_folder_is_missing_says_so(institution, drop):
    profile = make_profile(institution, drop)
    (drop / "import").rmdir()
    result = connection_test(connection=profile.connection)
    assert result.ok is False
    assert "import does not exist" in result.message
    assert set(result.as_dict()) == {"ok", "connection", "fingerprint", "kind", "message"}
