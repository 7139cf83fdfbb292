"""Reads of connections and of the Allowed S/FTP Connections table."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from patronsync.core.exceptions import ConfigurationError
from patronsync.core.models import Institution

from .allowed import host_normalize, in_implementation
from .models import AllowedConnection, Connection


def allowed_connection_list(*, institution: Institution) -> QuerySet[AllowedConnection]:
    """The institution's Allowed S/FTP Connections, by host."""
    return AllowedConnection.objects.filter(institution=institution).order_by("host")


def allowed_hosts(*, institution: Institution) -> set[str]:
    """The hosts of the institution's enabled rows, normalized."""
    rows = allowed_connection_list(institution=institution).filter(enabled=True)
    return {host_normalize(host) for host in rows.values_list("host", flat=True)}


def connection_list(*, institution: Institution) -> QuerySet[Connection]:
    """The institution's connections, by name."""
    return Connection.objects.filter(institution=institution).order_by("name")


def connection_get(*, institution: Institution, name: str) -> Connection:
    """The connection `name` of `institution`; a ConfigurationError listing the names there
    are when there is none."""
    connection = connection_list(institution=institution).filter(name=name).first()
    if connection is None:
        names = ", ".join(connection_list(institution=institution).values_list("name", flat=True))
        raise ConfigurationError(
            f"Institution {institution.code} has no connection {name!r}; "
            f"its connections: {names or 'none'}"
        )
    return connection


def connection_list_on_host(*, institution: Institution, host: str) -> QuerySet[Connection]:
    """The institution's remote definitions whose server is `host` (compared normalized): those
    a row of the Allowed S/FTP Connections lets through."""
    normal = host_normalize(host)
    rows = connection_list(institution=institution).exclude(transport="local")
    return rows.filter(server__iexact=normal) | rows.filter(server__iexact=f"{normal}.")


@dataclass(frozen=True, slots=True)
class ConnectionListRow:
    """A definition of the S/FTP definitions page, and whether its server is refused."""

    connection: Connection
    not_allowed: bool


def connection_list_with_allowed(*, institution: Institution) -> list[ConnectionListRow]:
    """The institution's definitions by name (with the profiles using each), each flagged
    `not_allowed` when, the institution being in implementation, it is a remote definition
    whose server is not an enabled row of the Allowed S/FTP Connections (its jobs fail)."""
    hosts = (
        allowed_hosts(institution=institution)
        if in_implementation(institution=institution)
        else None
    )
    return [
        ConnectionListRow(
            connection=row,
            not_allowed=hosts is not None
            and row.is_remote
            and host_normalize(row.server) not in hosts,
        )
        for row in connection_list(institution=institution).prefetch_related("profiles")
    ]
