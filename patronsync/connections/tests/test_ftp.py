"""The FTP and FTPS transports against pyftpdlib: passive and active, MLSD and NLST, the pinned
certificate, confinement, refusals and a server dying mid-download."""

from __future__ import annotations

import os
import secrets
import signal
import socket

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from patronsync.connections.hostkeys import host_key_probe, host_key_trust
from patronsync.connections.models import Connection
from patronsync.connections.transports import TransportError, transport_for

from .conftest import definition
from .servers import FtpServer, self_signed_certificate

pytestmark = pytest.mark.django_db


def drop(server, name="students.zip", *, size=1000, folder="synchronize"):
    path = server.home / folder / name
    path.write_bytes(os.urandom(size))
    return path


def changed(connection, **fields):
    Connection.objects.filter(pk=connection.pk).update(**fields)
    return Connection.objects.get(pk=connection.pk)


@pytest.mark.parametrize("passive", [True, False], ids=["passive", "active"])
@pytest.mark.parametrize("kind", ["ftp", "ftps", "legacy"])
def test_lists_downloads_and_renames_in_passive_and_active_mode(
    kind, passive, ftp_servers, institution, allowed, tmp_path
):
    server = ftp_servers[kind]
    server.reset()
    connection = definition(
        institution, "ftps" if kind == "ftps" else "ftp", server, passive_mode=passive
    )
    path = drop(server, size=200_000)
    drop(server, "other.zip", size=10)
    (server.home / "synchronize" / "old.zip.handled").write_text("taken before")
    (server.home / "synchronize" / "readme.txt").write_text("not a zip")
    (server.home / "synchronize" / "folder.zip").mkdir()

    with transport_for(connection) as transport:
        described = transport.test("synchronize")
        listed = transport.list("synchronize")
        fetched = transport.fetch("synchronize", "students.zip", tmp_path)
        assert fetched.read_bytes() == path.read_bytes()
        transport.mark_handled("synchronize", "students.zip")

    assert [(f.name, f.size) for f in listed] == [("other.zip", 10), ("students.zip", 200_000)]
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "folder.zip", "old.zip.handled", "other.zip", "readme.txt", "students.zip.handled",
    ]  # fmt: skip
    assert f"{'passive' if passive else 'active'} mode" in described
    assert ("NLST and SIZE" if kind == "legacy" else "MLSD") in described
    assert "folder /synchronize: 2 zip file(s) waiting" in described


def test_ftps_pins_the_certificate_by_its_sha256(ftps_connection, ftps_server, certificate):
    _, _, der = certificate
    expected = "SHA256:" + ":".join(
        f"{b:02X}" for b in x509.load_der_x509_certificate(der).fingerprint(hashes.SHA256())
    )
    with transport_for(ftps_connection) as transport:
        described = transport.test("synchronize")

    ftps_connection.refresh_from_db()
    assert ftps_connection.host_key_fingerprint == expected
    assert f"TLS, server certificate {expected}" in described


def test_a_changed_certificate_is_refused_until_trusted(
    ftps_connection, ftps_server, tmp_path, institution
):
    with transport_for(ftps_connection) as transport:
        transport.list("synchronize")
    ftps_connection.refresh_from_db()
    old = ftps_connection.host_key_fingerprint
    cert, key, _ = self_signed_certificate(tmp_path, name="impostor")
    other = FtpServer(ftps_server.home, tls=(cert, key)).start()
    try:
        connection = changed(ftps_connection, port=other.port, password=other.password)

        with pytest.raises(TransportError) as raised:
            transport_for(connection).list("synchronize")

        message = str(raised.value)
        assert raised.value.kind == "host_key"
        assert f"the server's certificate has changed: pinned {old}, the server now shows" in (
            message
        )
        assert "`patronsync connection trust campus-ftps` accepts the new certificate" in message
        assert other.password not in message

        new = host_key_probe(connection=connection)
        assert host_key_trust(connection=connection, fingerprint=new) == new

        assert new != old
        assert f"now shows {new}" in message
        connection.refresh_from_db()
        assert connection.host_key_fingerprint == new
        with transport_for(connection) as transport:
            assert transport.list("synchronize") == []
    finally:
        other.stop()


def test_a_data_connection_with_another_certificate_is_refused_and_nothing_is_downloaded(
    ftps_connection, ftps_server, certificate, tmp_path
):
    """A server whose data connections show another certificate than its control connection
    (as a man in the middle of the passive data port would) serves no file: the control
    connection's certificate is the pinned one, the data connection's is not."""
    drop(ftps_server, size=5000)
    with transport_for(ftps_connection) as transport:  # pins the server's certificate
        assert [f.name for f in transport.list("synchronize")] == ["students.zip"]
    ftps_connection.refresh_from_db()
    pinned = ftps_connection.host_key_fingerprint
    cert, key, _ = certificate
    impostor = self_signed_certificate(tmp_path, name="impostor")
    other = FtpServer(ftps_server.home, tls=(cert, key), data_tls=impostor[:2]).start()
    workdir = tmp_path / "work"
    workdir.mkdir()
    try:
        connection = changed(ftps_connection, port=other.port, password=other.password)
        with transport_for(connection) as transport, pytest.raises(TransportError) as raised:
            transport.fetch("synchronize", "students.zip", workdir)

        forged = "SHA256:" + ":".join(
            f"{b:02X}"
            for b in x509.load_der_x509_certificate(impostor[2]).fingerprint(hashes.SHA256())
        )
        assert raised.value.kind == "host_key"
        assert f"a data connection showed the certificate {forged}, not the server's {pinned}" in (
            str(raised.value)
        )
        assert list(workdir.iterdir()) == []
        connection.refresh_from_db()
        assert connection.host_key_fingerprint == pinned
    finally:
        other.stop()


def test_an_mlsd_listing_without_sizes_is_sized_by_size(ftp_connection, ftp_server, tmp_path):
    """A server whose MLSD leaves out the size fact: each zip's size comes from SIZE, so the
    size limit sees it and the download's check holds."""
    drop(ftp_server, size=4321)
    sizeless = FtpServer(ftp_server.home, size_fact=False).start()
    try:
        connection = changed(ftp_connection, port=sizeless.port, password=sizeless.password)
        with transport_for(connection) as transport:
            files = transport.list("synchronize")
            assert [(f.name, f.size) for f in files] == [("students.zip", 4321)]
            assert "listed with MLSD" in transport.test("synchronize")
            path = transport.fetch("synchronize", "students.zip", tmp_path)
        assert path.stat().st_size == 4321
    finally:
        sizeless.stop()


def test_plain_ftp_has_no_key_to_trust(ftp_connection):
    with pytest.raises(TransportError, match="FTP connections have no server key to pin or trust"):
        host_key_trust(connection=ftp_connection, fingerprint="SHA256:" + "A" * 43)


@pytest.mark.parametrize("transport_type", ["ftp", "ftps"])
def test_a_wrong_password_is_named_in_plain_words_and_the_servers(
    transport_type, ftp_servers, institution, allowed
):
    server = ftp_servers[transport_type]
    server.reset()
    wrong = "Wr0ng-" + secrets.token_hex(6)
    connection = definition(institution, transport_type, server, password=wrong)

    with pytest.raises(TransportError) as raised:
        transport_for(connection).list("synchronize")

    assert raised.value.kind == "auth"
    assert not raised.value.transient
    assert "the server refused the login of sis" in str(raised.value)
    assert "the server said: 530 Authentication failed." in str(raised.value)
    assert wrong not in str(raised.value)


def test_a_missing_folder_is_named_with_the_servers_550(ftp_connection):
    with pytest.raises(TransportError) as raised:
        transport_for(ftp_connection).list("nowhere")
    assert raised.value.kind == "missing"
    assert "the server said: 550" in str(raised.value)


@pytest.mark.parametrize("path", ["../../etc", "/etc", "synchronize/../.."])
def test_an_input_path_that_leaves_the_sub_directory_is_refused(ftps_connection, path):
    changed(ftps_connection, sub_directory="synchronize")
    with pytest.raises(TransportError) as raised:
        transport_for(Connection.objects.get(pk=ftps_connection.pk)).list(path)
    assert raised.value.kind == "navigation"
    assert f"{path!r} leaves the sub-directory" in str(raised.value)


def test_with_navigation_relative_paths_start_from_the_sub_directory(ftp_connection, ftp_server):
    drop(ftp_server, folder="import")
    connection = changed(ftp_connection, sub_directory="synchronize", allow_navigation=True)
    with transport_for(connection) as transport:
        assert [f.name for f in transport.list("../import")] == ["students.zip"]
        assert transport.list("") == []  # the sub-directory itself


def test_a_rename_the_server_does_not_allow_is_a_permission_error(tmp_path, institution, allowed):
    home = tmp_path / "home"
    home.mkdir()
    server = FtpServer(home, perm="elr")  # may list and read, not rename
    server.reset()
    try:
        drop(server)
        connection = definition(institution, "ftp", server)
        with pytest.raises(TransportError) as raised, transport_for(connection) as transport:
            transport.mark_handled("synchronize", "students.zip")
    finally:
        server.stop()
    assert raised.value.kind == "permission"
    assert "the server said: 550 Not enough privileges." in str(raised.value)


@pytest.mark.parametrize("transport_type", ["ftp", "ftps"])
def test_the_server_dying_mid_download_leaves_no_file(
    transport_type, ftp_servers, institution, allowed, tmp_path
):
    server = ftp_servers[transport_type]
    server.reset()
    drop(server, size=2_000_000)
    connection = definition(institution, transport_type, server)

    with transport_for(connection) as transport:
        transport.list("synchronize")
        server.die_during_next_download(after=300_000)
        with pytest.raises(TransportError) as raised:
            transport.fetch("synchronize", "students.zip", tmp_path)

    assert server.process.wait(10) == -signal.SIGKILL  # it died in the middle
    assert raised.value.kind == "refused"  # the retry found the server gone
    assert list(tmp_path.iterdir()) == []
    assert (server.home / "synchronize" / "students.zip").exists()


def test_a_server_that_never_answers_times_out_after_its_retries(ftp_connection, settings):
    settings.PATRONSYNC_TRANSPORT_TIMEOUT = 1
    silent = socket.create_server(("127.0.0.1", 0))  # accepts (the kernel does), never speaks
    connection = changed(ftp_connection, port=silent.getsockname()[1])
    try:
        with pytest.raises(TransportError) as raised:
            transport_for(connection).list("synchronize")
    finally:
        silent.close()
    assert raised.value.kind == "timeout"
    assert "(after 3 attempts)" in str(raised.value)


def test_an_ftps_definition_of_a_server_without_tls_is_a_tls_error(ftps_connection, ftp_server):
    connection = changed(ftps_connection, port=ftp_server.port, password=ftp_server.password)
    with pytest.raises(TransportError) as raised:
        transport_for(connection).list("synchronize")
    assert raised.value.kind == "tls"
    assert "the server does not offer explicit TLS (it refused AUTH TLS)" in str(raised.value)
    assert ftp_server.password not in str(raised.value)
