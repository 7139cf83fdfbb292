"""Transports by type: each lists, fetches and marks files on one kind of server."""

from __future__ import annotations

from typing import TYPE_CHECKING

from patronsync.core.exceptions import ConfigurationError

from .base import RemoteFile, Transport
from .local import LocalTransport

if TYPE_CHECKING:
    from patronsync.connections.models import Connection

TRANSPORTS: dict[str, type[Transport]] = {"local": LocalTransport}


def transport_for(connection: Connection) -> Transport:
    """The transport that serves `connection`."""
    try:
        transport_class = TRANSPORTS[connection.transport]
    except KeyError:
        raise ConfigurationError(
            f"Connection {connection.name}: transport {connection.transport!r} is not available"
        ) from None
    return transport_class(connection)


__all__ = ["TRANSPORTS", "RemoteFile", "Transport", "transport_for"]
