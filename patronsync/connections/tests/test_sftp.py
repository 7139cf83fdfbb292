"""The SFTP transport against OpenSSH's sshd: logins, the pinned host key, confinement, faults."""

from __future__ import annotations

import logging
import os
import secrets
import socket

import pytest

from patronsync.connections.hostkeys import host_key_trust
from patronsync.connections.keys import ssh_keypair_new
from patronsync.connections.models import Connection
from patronsync.connections.transports import TransportError, transport_for

from .servers import Relay, free_port

pytestmark = pytest.mark.django_db

# paramiko's prefetch thread of a download dies with the connection it was reading from.
prefetch_dies = pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")


def drop(sshd, name="students.zip", *, size=1000, folder="synchronize"):
    path = sshd.upload / folder / name
    path.write_bytes(os.urandom(size))
    return path


def log_count(sshd, words):
    return sshd.log.read_text(errors="replace").count(words)


def test_password_login_lists_downloads_and_renames_and_pins_the_host_key(
    sftp_connection, sshd, tmp_path
):
    path = drop(sshd, size=70_000)
    (sshd.upload / "synchronize" / "notes.txt").write_text("not a zip")
    (sshd.upload / "synchronize" / "old.zip.handled").write_text("taken before")
    with transport_for(sftp_connection) as transport:
        described = transport.test("synchronize")
        [listed] = transport.list("synchronize")
        fetched = transport.fetch("synchronize", "students.zip", tmp_path)
        assert fetched.read_bytes() == path.read_bytes()
        transport.mark_handled("synchronize", "students.zip")

    assert (listed.name, listed.size) == ("students.zip", 70_000)
    assert not path.exists()
    assert (sshd.upload / "synchronize" / "students.zip.handled").exists()
    fingerprint = sshd.fingerprint()  # as OpenSSH's ssh-keygen -l prints it
    sftp_connection.refresh_from_db()
    assert sftp_connection.host_key_fingerprint == fingerprint
    assert sftp_connection.host_key_pinned_at is not None
    assert f"logged in as {sshd.user} with the password" in described
    assert fingerprint in described
    assert "folder /upload/synchronize: 1 zip file(s) waiting" in described


def test_key_login_with_the_definitions_own_key_pair(sftp_connection, sshd):
    private, public = ssh_keypair_new(comment="patronsync campus-sftp")
    sshd.authorize(public)
    Connection.objects.filter(pk=sftp_connection.pk).update(
        password="", private_key=private, public_key=public
    )
    connection = Connection.objects.get(pk=sftp_connection.pk)
    drop(sshd)

    with transport_for(connection) as transport:
        described = transport.test("synchronize")

    assert "with the key" in described
    assert "1 zip file(s) waiting" in described


def test_with_key_and_password_the_password_is_tried_when_the_key_is_not_installed(
    sftp_connection, sshd
):
    private, _ = ssh_keypair_new(comment="not installed")
    Connection.objects.filter(pk=sftp_connection.pk).update(private_key=private)
    connection = Connection.objects.get(pk=sftp_connection.pk)
    with transport_for(connection) as transport:
        assert "with the password" in transport.test("synchronize")


def test_a_wrong_password_is_refused_once_and_named_without_the_password(
    sftp_connection, sshd, caplog
):
    wrong = "Wr0ng-" + secrets.token_hex(6)
    Connection.objects.filter(pk=sftp_connection.pk).update(password=wrong)
    connection = Connection.objects.get(pk=sftp_connection.pk)
    before = log_count(sshd, "Failed password")

    with caplog.at_level(logging.DEBUG), pytest.raises(TransportError) as raised:
        transport_for(connection).list("synchronize")

    error = raised.value
    assert error.kind == "auth"
    assert not error.transient
    assert f"the server refused the login of {sshd.user} with the password" in str(error)
    assert f"SFTP server 127.0.0.1:{sshd.port}" in str(error)
    assert wrong not in str(error)
    assert wrong not in caplog.text
    assert log_count(sshd, "Failed password") == before + 1  # not retried


def test_a_changed_host_key_is_refused_with_both_fingerprints_until_trusted(sftp_connection, sshd):
    with transport_for(sftp_connection) as transport:
        transport.list("synchronize")
    old = sshd.fingerprint()
    sftp_connection.refresh_from_db()
    assert sftp_connection.host_key_fingerprint == old
    logins = log_count(sshd, "Accepted password")
    try:
        new = sshd.host_key_new()  # the server reinstalled, or someone posing as it

        with pytest.raises(TransportError) as raised:
            transport_for(sftp_connection).list("synchronize")

        message = str(raised.value)
        assert raised.value.kind == "host_key"
        assert f"pinned {old}, the server now shows {new}" in message
        assert "`patronsync connection trust campus-sftp` accepts the new key" in message
        assert log_count(sshd, "Accepted password") == logins  # no password was sent
        sftp_connection.refresh_from_db()
        assert sftp_connection.host_key_fingerprint == old

        assert host_key_trust(connection=sftp_connection, fingerprint=new) == new

        sftp_connection.refresh_from_db()
        assert sftp_connection.host_key_fingerprint == new
        with transport_for(sftp_connection) as transport:
            assert transport.list("synchronize") == []
    finally:
        sshd.host_key_new()  # the session's server keeps a key no other test pinned


def test_a_stale_definition_checks_the_pin_of_the_database_and_sends_no_password(
    sftp_connection, sshd
):
    stale = Connection.objects.get(pk=sftp_connection.pk)  # loaded before another pinned a key
    pinned = "SHA256:" + "A" * 43
    Connection.objects.filter(pk=stale.pk).update(host_key_fingerprint=pinned)
    logins = log_count(sshd, "Accepted password")

    with pytest.raises(TransportError) as raised:
        transport_for(stale).list("synchronize")

    assert raised.value.kind == "host_key"
    assert f"pinned {pinned}, the server now shows {sshd.fingerprint()}" in str(raised.value)
    assert log_count(sshd, "Accepted password") == logins


def test_a_folder_that_is_a_link_out_of_the_sub_directory_is_refused(sftp_connection, sshd):
    (sshd.outside / "secret.zip").write_bytes(b"not for this profile")
    (sshd.upload / "escape").symlink_to("/outside")  # a path inside the chroot

    with pytest.raises(TransportError) as raised:
        transport_for(sftp_connection).list("escape")

    assert raised.value.kind == "navigation"
    assert "'escape' leads to /outside, outside /upload (a symbolic link)" in str(raised.value)

    Connection.objects.filter(pk=sftp_connection.pk).update(allow_navigation=True)
    allowed = Connection.objects.get(pk=sftp_connection.pk)
    with transport_for(allowed) as transport:
        assert [f.name for f in transport.list("escape")] == ["secret.zip"]


def test_a_zip_that_is_a_link_out_of_the_sub_directory_is_refused(sftp_connection, sshd, tmp_path):
    (sshd.upload / "synchronize" / "students.zip").symlink_to("/outside/secret.zip")

    with transport_for(sftp_connection) as transport:
        with pytest.raises(TransportError) as listing:
            transport.list("synchronize")
        with pytest.raises(TransportError) as fetching:
            transport.fetch("synchronize", "students.zip", tmp_path)

    for raised in (listing, fetching):
        assert raised.value.kind == "navigation"
        assert "is a symbolic link to /outside/secret.zip, outside /upload" in str(raised.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("path", ["../../etc", "/outside", "synchronize/../../outside"])
def test_an_input_path_that_leaves_the_sub_directory_is_refused(sftp_connection, sshd, path):
    with pytest.raises(TransportError) as raised:
        transport_for(sftp_connection).list(path)
    assert raised.value.kind == "navigation"
    assert f"{path!r} leaves the sub-directory" in str(raised.value)
    assert "does not allow navigation" in str(raised.value)


def test_a_missing_folder_is_named(sftp_connection, sshd):
    with pytest.raises(TransportError) as raised:
        transport_for(sftp_connection).list("nowhere")
    assert raised.value.kind == "missing"
    assert "no such folder or file (listing folder nowhere)" in str(raised.value)


def test_a_port_where_nothing_listens_is_a_refused_connection(sftp_connection):
    Connection.objects.filter(pk=sftp_connection.pk).update(port=free_port())
    connection = Connection.objects.get(pk=sftp_connection.pk)
    with pytest.raises(TransportError) as raised:
        transport_for(connection).list("synchronize")
    assert raised.value.kind == "refused"
    assert not raised.value.transient


def test_a_file_that_grew_since_the_listing_is_not_handed_over(sftp_connection, sshd, tmp_path):
    path = drop(sshd, size=5000)
    with transport_for(sftp_connection) as transport:
        transport.list("synchronize")
        with path.open("ab") as still_uploading:
            still_uploading.write(b"more")
        with pytest.raises(TransportError) as raised:
            transport.fetch("synchronize", "students.zip", tmp_path)

    assert raised.value.kind == "size"
    assert "came to 5,004 bytes where the listing said 5,000; it is not loaded" in str(raised.value)
    assert list(tmp_path.iterdir()) == []


@prefetch_dies
def test_a_connection_dropped_mid_download_is_retried_and_the_file_comes_whole(
    sftp_connection, sshd, tmp_path, caplog
):
    path = drop(sshd, size=1_500_000)
    relay = Relay(sshd.port, after=400_000, keep_listening=True)
    Connection.objects.filter(pk=sftp_connection.pk).update(port=relay.port)
    connection = Connection.objects.get(pk=sftp_connection.pk)
    try:
        with caplog.at_level(logging.WARNING), transport_for(connection) as transport:
            fetched = transport.fetch("synchronize", "students.zip", tmp_path)
    finally:
        relay.close()

    assert relay.tripped.is_set()
    assert fetched.read_bytes() == path.read_bytes()
    assert "attempt 1 of 3 failed, trying again" in caplog.text
    assert [p.name for p in tmp_path.iterdir()] == ["students.zip"]  # no partial file left


@prefetch_dies
def test_the_server_stopping_mid_download_leaves_no_file(sftp_connection, sshd, tmp_path):
    drop(sshd, size=1_500_000)
    relay = Relay(sshd.port, after=400_000, then=sshd.stop)
    Connection.objects.filter(pk=sftp_connection.pk).update(port=relay.port)
    connection = Connection.objects.get(pk=sftp_connection.pk)

    with pytest.raises(TransportError) as raised, transport_for(connection) as transport:
        transport.fetch("synchronize", "students.zip", tmp_path)

    assert relay.tripped.is_set()
    assert raised.value.kind == "refused"  # the retry found the server gone
    assert list(tmp_path.iterdir()) == []
    assert (sshd.upload / "synchronize" / "students.zip").exists()


def test_an_unknown_server_name_is_a_dns_error(sftp_connection):
    Connection.objects.filter(pk=sftp_connection.pk).update(server="patronsync-test.invalid")
    connection = Connection.objects.get(pk=sftp_connection.pk)
    with pytest.raises(TransportError) as raised:
        transport_for(connection).list("synchronize")
    assert raised.value.kind == "dns"
    assert "the name patronsync-test.invalid is unknown (DNS)" in str(raised.value)


def test_a_server_that_never_answers_times_out_after_its_retries(sftp_connection, settings):
    settings.PATRONSYNC_TRANSPORT_TIMEOUT = 1
    silent = socket.create_server(("127.0.0.1", 0))  # accepts (the kernel does), never speaks
    Connection.objects.filter(pk=sftp_connection.pk).update(port=silent.getsockname()[1])
    connection = Connection.objects.get(pk=sftp_connection.pk)
    try:
        with pytest.raises(TransportError) as raised:
            transport_for(connection).list("synchronize")
    finally:
        silent.close()
    assert raised.value.kind == "timeout"
    assert "the server did not answer in time" in str(raised.value)
    assert "(after 3 attempts)" in str(raised.value)
