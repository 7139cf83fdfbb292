"""The rule of Alma's Allowed S/FTP Connections: while an institution is in implementation
(PATRONSYNC_IN_IMPLEMENTATION), its S/FTP definitions reach only the servers of its table.

Hosts are compared as `host_normalize` writes them: no surrounding whitespace, no trailing dot,
lower case, so `SFTP.Example.edu.` is `sftp.example.edu`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings

from .choices import REMOTE_TRANSPORTS

if TYPE_CHECKING:
    from patronsync.core.models import Institution

    from .models import Connection

ALL_INSTITUTIONS = "*"


def host_normalize(host: str) -> str:
    """A host name or address as the table compares it."""
    return (host or "").strip().rstrip(".").lower()


def in_implementation(*, institution: Institution) -> bool:
    """Whether `institution` is still in implementation: PATRONSYNC_IN_IMPLEMENTATION holds `*`
    (the default: a new installation is, as Alma is before Go Live) or its code."""
    value = getattr(settings, "PATRONSYNC_IN_IMPLEMENTATION", ALL_INSTITUTIONS) or ""
    codes = {code.strip() for code in value.split(",") if code.strip()}
    return ALL_INSTITUTIONS in codes or institution.code in codes


def server_not_allowed(*, connection: Connection) -> str | None:
    """Why `connection` may not be saved or used, or None: a remote definition of an
    institution in implementation whose server is not an enabled row of the institution's
    Allowed S/FTP Connections."""
    if connection.transport not in REMOTE_TRANSPORTS or connection.institution_id is None:
        return None
    institution = connection.institution
    if not in_implementation(institution=institution):
        return None
    host = host_normalize(connection.server)
    if not host:
        return None  # the missing server is its own error
    if institution.allowed_connections.filter(host=host, enabled=True).exists():
        return None
    return (
        f"Server {host} is not an enabled row of the Allowed S/FTP Connections of institution "
        f"{institution.code}, which is in implementation (PATRONSYNC_IN_IMPLEMENTATION): add "
        f"{host} to the Allowed S/FTP Connections table: `allowed_connections:` in the "
        "configuration file, the API or the admin."
    )
