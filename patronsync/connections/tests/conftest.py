"""Fixtures of the transport tests: real servers on free loopback ports, definitions of them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from patronsync.connections.models import AllowedConnection, Connection

from .servers import LOOPBACK, FtpServer, SshServer, self_signed_certificate


@pytest.fixture(autouse=True)
def quick_retries(settings):
    """Retries without waiting, and a short timeout: a test never sleeps through a backoff."""
    settings.PATRONSYNC_TRANSPORT_BACKOFF_SECONDS = 0
    settings.PATRONSYNC_TRANSPORT_TIMEOUT = 10


@pytest.fixture(scope="session")
def sshd_server() -> Iterator[SshServer]:
    server = SshServer().start()
    yield server
    server.close()


@pytest.fixture
def sshd(sshd_server: SshServer) -> SshServer:
    """The test sshd, running, with an empty upload folder and no authorized key."""
    sshd_server.reset()
    return sshd_server


@pytest.fixture(scope="session")
def certificate(tmp_path_factory) -> tuple[Path, Path, bytes]:
    return self_signed_certificate(tmp_path_factory.mktemp("certificate"))


@pytest.fixture(scope="session")
def ftp_servers(tmp_path_factory, certificate) -> Iterator[dict[str, FtpServer]]:
    """A plain FTP server, an FTPS one (explicit TLS, self-signed), and an old FTP server
    without MLSD, each serving its own home."""
    cert, key, _ = certificate
    servers = {
        "ftp": FtpServer(tmp_path_factory.mktemp("ftp-home")),
        "ftps": FtpServer(tmp_path_factory.mktemp("ftps-home"), tls=(cert, key)),
        "legacy": FtpServer(tmp_path_factory.mktemp("legacy-home"), mlsd=False),
    }
    for server in servers.values():
        server.start()
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture
def ftp_server(ftp_servers) -> FtpServer:
    ftp_servers["ftp"].reset()
    return ftp_servers["ftp"]


@pytest.fixture
def ftps_server(ftp_servers) -> FtpServer:
    ftp_servers["ftps"].reset()
    return ftp_servers["ftps"]


@pytest.fixture
def legacy_ftp_server(ftp_servers) -> FtpServer:
    ftp_servers["legacy"].reset()
    return ftp_servers["legacy"]


@pytest.fixture
def allowed(institution) -> AllowedConnection:
    """127.0.0.1 in the institution's Allowed S/FTP Connections (it is in implementation)."""
    row, _ = AllowedConnection.objects.get_or_create(
        institution=institution, host=LOOPBACK, defaults={"description": "test servers"}
    )
    return row


def definition(institution, transport: str, server: SshServer | FtpServer, **fields) -> Connection:
    """An S/FTP definition of `server`, without navigation, written as the ORM stores it."""
    values = {
        "name": f"campus-{transport}",
        "transport": transport,
        "server": LOOPBACK,
        "port": server.port,
        "username": server.user,
        "password": server.password,
        "sub_directory": "/upload" if transport == "sftp" else "",
        "allow_navigation": False,
        **fields,
    }
    return Connection.objects.create(institution=institution, **values)


@pytest.fixture
def sftp_connection(institution, sshd, allowed) -> Connection:
    return definition(institution, "sftp", sshd)


@pytest.fixture
def ftp_connection(institution, ftp_server, allowed) -> Connection:
    return definition(institution, "ftp", ftp_server)


@pytest.fixture
def ftps_connection(institution, ftps_server, allowed) -> Connection:
    return definition(institution, "ftps", ftps_server)
