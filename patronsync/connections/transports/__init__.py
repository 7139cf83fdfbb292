"""Transports by type: each lists, fetches and marks files on one kind of server."""

from __future__ import annotations

from typing import TYPE_CHECKING

from patronsync.connections.allowed import server_not_allowed
from patronsync.core.exceptions import ConfigurationError

from .base import RemoteFile, Transport, TransportError
from .ftp import FtpTransport
from .local import LocalTransport
from .sftp import SftpTransport

if TYPE_CHECKING:
    from patronsync.connections.models import Connection

TRANSPORTS: dict[str, type[Transport]] = {
    "local": LocalTransport,
    "sftp": SftpTransport,
    "ftps": FtpTransport,
    "ftp": FtpTransport,
}


def transport_for(connection: Connection) -> Transport:
    """The transport that serves `connection`; refused while its institution is in
    implementation and its server is not in the Allowed S/FTP Connections."""
    problem = server_not_allowed(connection=connection)
    if problem:
        raise ConfigurationError(f"Connection {connection.name}: {problem}")
    try:
        transport_class = TRANSPORTS[connection.transport]
    except KeyError:
        raise ConfigurationError(
            f"Connection {connection.name}: transport {connection.transport!r} is not available"
        ) from None
    return transport_class(connection)


__all__ = ["TRANSPORTS", "RemoteFile", "Transport", "TransportError", "transport_for"]
