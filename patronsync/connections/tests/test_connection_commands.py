"""`patronsync connection list | show | pubkey | keygen | test | trust NAME`, as an
administrator types them."""

from __future__ import annotations

import io
import json

import pytest

from patronsync.cli import main
from patronsync.connections.models import AllowedConnection, Connection
from patronsync.connections.services import connection_create, connection_update
from patronsync.loader.tests.conftest import drop, make_profile, write_zip

__all__ = ["drop"]

pytestmark = pytest.mark.django_db

SECRET = "cli-Pa55word-never-shown"


@pytest.fixture
def campus(institution) -> Connection:
    return connection_create(
        institution=institution,
        values={
            "name": "campus",
            "transport": "sftp",
            "server": "sftp.example.edu",
            "username": "library",
            "password": SECRET,
        },
        actor="tests",
    )


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_pubkey_prints_the_public_key_on_one_line(campus, capsys):
    code, out, _ = run(capsys, "connection", "pubkey", "campus")
    assert code == 0
    assert out == campus.public_key + "\n"
    assert out.startswith("ssh-ed25519 AAAA")
    assert out.strip().endswith("patronsync-main-campus")


def test_keygen_prints_the_new_public_key_and_says_to_install_it(campus, capsys):
    code, out, err = run(capsys, "connection", "keygen", "campus")
    assert code == 0
    new = Connection.objects.get().public_key
    assert new != campus.public_key
    assert out == new + "\n"
    assert "install the public key above" in err
    assert "PRIVATE KEY" not in out + err


def test_an_unknown_connection_is_named_with_the_ones_there_are(campus, capsys):
    code, _, err = run(capsys, "connection", "pubkey", "nope")
    assert code == 2
    assert err == "error: Institution main has no connection 'nope'; its connections: campus\n"


def test_pubkey_of_a_local_folder_says_it_has_no_key_pair(institution, drop, capsys):
    make_profile(institution, drop)
    name = Connection.objects.get().name
    code, _, err = run(capsys, "connection", "pubkey", name)
    assert code == 2
    assert "has no key pair" in err


def test_show_prints_alma_s_fields_and_never_the_secrets(campus, capsys):
    code, out, _ = run(capsys, "connection", "show", "campus")
    assert code == 0
    assert "Ftp Server Secured:    SFTP" in out
    assert "Ftp Server Type:       Default FTP" in out
    assert "Port:                  22" in out
    assert "Password:              set" in out
    assert "Host key fingerprint:  not pinned yet" in out
    assert campus.public_key in out
    assert SECRET not in out
    assert "PRIVATE KEY" not in out


def test_list_says_whether_each_server_is_allowed(settings, campus, institution, capsys):
    settings.PATRONSYNC_IN_IMPLEMENTATION = ""
    code, out, _ = run(capsys, "connection", "list")
    assert code == 0
    assert "campus" in out
    assert "not checked" in out
    assert "Institution main is not in implementation" in out
    settings.PATRONSYNC_IN_IMPLEMENTATION = "*"
    AllowedConnection.objects.create(institution=institution, host="sftp.example.edu")
    _, out, _ = run(capsys, "connection", "list")
    row = next(line for line in out.splitlines() if "campus" in line)
    assert "sftp.example.edu" in row
    assert "22" in row
    assert "yes" in row


def test_test_counts_the_zips_of_each_profile_folder(institution, drop, capsys):
    profile = make_profile(institution, drop)
    write_zip(drop / "synchronize" / "a.zip", {"a.xml": "<users/>"})
    name = profile.connection.name
    code, out, _ = run(capsys, "connection", "test", name)
    assert code == 0
    assert out.splitlines() == [
        f"Connection {name}: OK",
        "  SIS import: import: 0 zip file(s)",
        "  SIS synchronize: synchronize: 1 zip file(s)",
    ]
    code, out, _ = run(capsys, "connection", "test", name, "--json")
    assert json.loads(out)["folders"][1] == {
        "profile": "SIS",
        "section": "synchronize",
        "path": "synchronize",
        "zip_files": 1,
    }


def test_a_failed_test_exits_1_with_its_kind(settings, campus, capsys):
    settings.PATRONSYNC_IN_IMPLEMENTATION = "*"
    code, out, _ = run(capsys, "connection", "test", "campus")
    assert code == 1
    assert out.startswith("Connection campus: FAILED (not_allowed): Connection campus: Server")
    assert SECRET not in out


# Against a real sshd (the fixtures of conftest.py) --------------------------------------------


def test_test_pins_the_server_key_a_changed_key_is_refused_and_trust_accepts_it(
    sftp_connection, sshd, capsys
):
    name = sftp_connection.name
    code, out, _ = run(capsys, "connection", "test", name)
    assert code == 0, out
    first = sshd.fingerprint()
    assert f"Server key: {first}" in out
    pinned = Connection.objects.get()
    assert pinned.host_key_fingerprint == first
    assert pinned.host_key_pinned_at is not None

    second = sshd.host_key_new()
    code, out, _ = run(capsys, "connection", "test", name)
    assert code == 1
    assert out.startswith(f"Connection {name}: FAILED (host_key): ")
    assert first in out
    assert second in out

    code, out, _ = run(capsys, "connection", "trust", name, "--fingerprint", second)
    assert code == 0
    assert out == f"Connection {name}: the server's key {second} is trusted (pinned).\n"
    assert Connection.objects.get().host_key_fingerprint == second
    code, out, _ = run(capsys, "connection", "test", name)
    assert code == 0, out
    assert f"Server key: {second}" in out


@pytest.fixture
def changed_key(sftp_connection, sshd, capsys):
    """The server's key pinned, then changed: (old, new)."""
    assert run(capsys, "connection", "test", sftp_connection.name)[0] == 0
    old = sshd.fingerprint()
    try:
        yield old, sshd.host_key_new()
    finally:
        sshd.host_key_new()  # the session's server keeps a key no other test pinned


def pinned_now() -> str:
    return Connection.objects.get().host_key_fingerprint


def test_trust_with_another_fingerprint_than_the_servers_pins_nothing(
    sftp_connection, changed_key, capsys
):
    old, new = changed_key
    given = "SHA256:" + "B" * 43
    name = sftp_connection.name
    code, out, err = run(capsys, "connection", "trust", name, "--fingerprint", given)
    assert (code, out) == (2, "")
    assert f"the server shows the key {new}, not {given}; nothing was pinned" in err
    assert pinned_now() == old


def test_trust_off_a_terminal_without_fingerprint_refuses_and_shows_the_servers(
    sftp_connection, changed_key, capsys
):
    old, new = changed_key
    code, out, err = run(capsys, "connection", "trust", sftp_connection.name)
    assert (code, out) == (2, "")
    assert f"the server shows {new}; not on a terminal, so nothing was trusted" in err
    assert f"--fingerprint {new}` (or add --yes" in err
    assert pinned_now() == old

    code, out, _ = run(capsys, "connection", "trust", sftp_connection.name, "--yes")
    assert code == 0
    assert f"the server's key {new} is trusted (pinned)" in out
    assert pinned_now() == new


class Terminal(io.StringIO):
    """Standard input as an administrator's terminal: what they type."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("typed", "trusted"), [("y\n", True), ("\n", False), ("no\n", False)])
def test_trust_on_a_terminal_asks_with_the_servers_fingerprint(
    sftp_connection, changed_key, capsys, monkeypatch, typed, trusted
):
    old, new = changed_key
    monkeypatch.setattr("sys.stdin", Terminal(typed))
    code, out, err = run(capsys, "connection", "trust", sftp_connection.name)
    assert out.startswith(f"Trust {new} ? [y/N] ")
    if trusted:
        assert code == 0
        assert pinned_now() == new
    else:
        assert code == 1
        assert err == f"Connection {sftp_connection.name}: nothing was trusted.\n"
        assert pinned_now() == old


def test_the_generated_key_pair_logs_in_once_its_public_key_is_installed(
    sftp_connection, sshd, capsys
):
    name = sftp_connection.name
    connection_update(connection=sftp_connection, values={"password": ""}, actor="tests")
    _, public_key, _ = run(capsys, "connection", "keygen", name)
    code, out, _ = run(capsys, "connection", "test", name)
    assert code == 1
    assert "(auth)" in out
    sshd.authorize(public_key)
    code, out, _ = run(capsys, "connection", "test", name)
    assert code == 0, out
    assert "no profile uses this connection" in out
