"""Writes on connections (S/FTP definitions).

A connection's password and private key are set only when the call sends them, so an update
that leaves them out keeps them; they are encrypted when saved.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import ProtectedError

from patronsync.core.exceptions import PatronsyncError
from patronsync.core.models import Institution
from patronsync.core.services import model_assign

from .models import Connection


class ConnectionInUse(PatronsyncError):
    """The connection is used by integration profiles and cannot be deleted."""


@transaction.atomic
def connection_create(
    *, institution: Institution, values: dict[str, Any], actor: str
) -> Connection:
    """Create a connection of `institution`; secrets are encrypted when saved."""
    connection = Connection(institution=institution)
    model_assign(connection, values, actor=actor)
    connection.save()
    return connection


@transaction.atomic
def connection_update(*, connection: Connection, values: dict[str, Any], actor: str) -> Connection:
    """Change the given fields of a connection; nothing is written when nothing differs."""
    if model_assign(connection, values, actor=actor):
        connection.save()
    return connection


def connection_delete(*, connection: Connection) -> None:
    """Delete a connection that no profile uses; raises ConnectionInUse otherwise."""
    try:
        connection.delete()
    except ProtectedError:
        codes = ", ".join(connection.profiles.values_list("code", flat=True))
        raise ConnectionInUse(f"connection is used by profile(s) {codes}") from None
