"""Writes on connections (S/FTP definitions) and on the Allowed S/FTP Connections table, and the
actions on a definition: a new key pair, trusting the server's key, testing the connection.

A connection's password and private key are set only when the call sends them, so an update
that leaves them out keeps them; they are encrypted when saved. An sftp definition always has a
key pair: made when it is created (or becomes sftp) without a private key, or derived from the
private key given.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError

from patronsync.core.exceptions import PatronsyncError
from patronsync.core.models import Institution
from patronsync.core.services import model_assign

from .allowed import host_normalize, server_not_allowed
from .choices import TransportType
from .hostkeys import host_key_probe, same_fingerprint
from .keys import ssh_keypair_new
from .models import AllowedConnection, Connection
from .transports import TransportError, transport_for

logger = logging.getLogger(__name__)

# A profile's sections and the fields of their input paths, for `connection_test`.
PROFILE_SECTIONS = (("import", "import_input_path"), ("synchronize", "sync_input_path"))


class ConnectionInUse(PatronsyncError):
    """The connection is used by integration profiles and cannot be deleted."""


# Allowed S/FTP Connections --------------------------------------------------------------------


@transaction.atomic
def allowed_connection_create(
    *, institution: Institution, values: dict[str, Any], actor: str
) -> AllowedConnection:
    """Add a row to `institution`'s Allowed S/FTP Connections (host, description, enabled)."""
    allowed = AllowedConnection(institution=institution)
    model_assign(allowed, values, actor=actor)
    allowed.save()
    return allowed


@transaction.atomic
def allowed_connection_update(
    *, allowed: AllowedConnection, values: dict[str, Any], actor: str
) -> AllowedConnection:
    """Change a row of the table; nothing is written when nothing differs."""
    if "host" in values:
        values = {**values, "host": host_normalize(values["host"])}
    if model_assign(allowed, values, actor=actor):
        allowed.save()
    return allowed


def allowed_connection_delete(*, allowed: AllowedConnection) -> None:
    """Remove a row. Definitions on its server stay saved; while the institution is in
    implementation their jobs then fail, naming the server."""
    allowed.delete()


def allowed_connection_declare(
    *, institution: Institution, host: str, values: dict[str, Any], actor: str
) -> tuple[AllowedConnection, str]:
    """Make the row of `host` (compared normalized) hold `values`, for `config apply`; says
    "created", "updated" or "unchanged" (nothing written)."""
    normal = host_normalize(host)
    allowed = AllowedConnection.objects.filter(institution=institution, host=normal).first()
    if allowed is None:
        return allowed_connection_create(
            institution=institution, values={"host": host, **values}, actor=actor
        ), "created"
    before = (allowed.description, allowed.enabled)
    allowed_connection_update(allowed=allowed, values=values, actor=actor)
    return allowed, "unchanged" if before == (allowed.description, allowed.enabled) else "updated"


# S/FTP definitions ----------------------------------------------------------------------------


def public_key_of(private_key: str, *, comment: str) -> str:
    """The public key, one OpenSSH line with `comment`, of a private key in the OpenSSH or PEM
    format; a ValidationError on `private_key` (never showing it) when it cannot be read."""
    data = private_key.strip().encode()
    try:
        try:
            key: Any = serialization.load_ssh_private_key(data, password=None)
        except ValueError:
            key = serialization.load_pem_private_key(data, password=None)
        public = key.public_key().public_bytes(
            encoding=serialization.Encoding.OpenSSH, format=serialization.PublicFormat.OpenSSH
        )
    except TypeError:
        raise ValidationError(
            {"private_key": "The private key is protected by a passphrase; give it without one."}
        ) from None
    except (ValueError, AttributeError, UnsupportedAlgorithm):
        raise ValidationError(
            {
                "private_key": "The private key is not an OpenSSH or PEM private key "
                "(-----BEGIN OPENSSH PRIVATE KEY----- ...), or its type is not supported."
            }
        ) from None
    return f"{public.decode('ascii')} {comment}"


def _key_comment(connection: Connection) -> str:
    return f"patronsync-{connection.institution.code}-{connection.name}"


def _keys_settle(connection: Connection, *, key_changed: bool) -> bool:
    """Keep the key pair whole after a write: the public key of a given private key, a new
    pair for an sftp definition that has none. Returns whether anything changed."""
    if key_changed:
        connection.public_key = (
            public_key_of(connection.private_key, comment=_key_comment(connection))
            if connection.private_key
            else ""
        )
    if connection.transport == TransportType.SFTP and not connection.private_key:
        connection.private_key, connection.public_key = ssh_keypair_new(
            comment=_key_comment(connection)
        )
        return True
    return key_changed


@transaction.atomic
def connection_create(
    *, institution: Institution, values: dict[str, Any], actor: str
) -> Connection:
    """Create a connection of `institution`; secrets are encrypted when saved. An sftp
    definition without a private key gets a new Ed25519 key pair."""
    connection = Connection(institution=institution)
    model_assign(connection, values, actor=actor)
    _keys_settle(connection, key_changed=bool(connection.private_key))
    connection.save()
    return connection


def _connection_change(connection: Connection, values: dict[str, Any], actor: str) -> bool:
    key_before = connection.private_key
    if not model_assign(connection, values, actor=actor):
        return False
    _keys_settle(connection, key_changed=connection.private_key != key_before)
    connection.save()
    return True


@transaction.atomic
def connection_update(*, connection: Connection, values: dict[str, Any], actor: str) -> Connection:
    """Change the given fields of a connection; nothing is written when nothing differs. A new
    private key replaces the pair; an empty one (or a switch to sftp) makes a new pair."""
    _connection_change(connection, values, actor)
    return connection


@transaction.atomic
def connection_declare(
    *, institution: Institution, name: str, values: dict[str, Any], actor: str
) -> tuple[Connection, str]:
    """Make the connection `name` of `institution` hold `values`, for `config apply`; says
    "created", "updated" or "unchanged" (nothing written)."""
    connection = Connection.objects.filter(institution=institution, name=name).first()
    if connection is None:
        values = {"name": name, **values}
        return connection_create(institution=institution, values=values, actor=actor), "created"
    changed = _connection_change(connection, values, actor)
    return connection, "updated" if changed else "unchanged"


def connection_delete(*, connection: Connection) -> None:
    """Delete a connection that no profile uses; raises ConnectionInUse otherwise."""
    try:
        connection.delete()
    except ProtectedError:
        codes = ", ".join(connection.profiles.values_list("code", flat=True))
        raise ConnectionInUse(f"connection is used by profile(s) {codes}") from None


class NotSftp(PatronsyncError):
    """The action needs an sftp definition."""


@transaction.atomic
def connection_keygen(*, connection: Connection, actor: str) -> Connection:
    """Give an sftp definition a new Ed25519 key pair; the old public key stops working once
    it is removed from the server. Returns the connection, its new `public_key` to install."""
    if connection.transport != TransportType.SFTP:
        raise NotSftp(
            f"Connection {connection.name} is {connection.transport}: only sftp definitions log "
            "in with a key pair."
        )
    connection.private_key, connection.public_key = ssh_keypair_new(
        comment=_key_comment(connection)
    )
    connection.updated_by = actor
    connection.save(update_fields=["private_key", "public_key", "updated_by", "updated_at"])
    logger.info("connection %s: new key pair by %s", connection.pk, actor)
    return connection


@dataclass
class FolderTested:
    """An input folder of a profile, as `connection_test` found it."""

    profile: str
    section: str
    path: str
    zip_files: int


@dataclass
class ConnectionTestResult:
    """What `connection_test` found: `ok` with the server's fingerprint and the folders, or
    the failure's `kind` (dns, refused, timeout, auth, host_key, permission, missing, tls,
    not_allowed, configuration, ...) and its `message`, which never holds a secret."""

    ok: bool
    connection: str
    fingerprint: str = ""
    folders: list[FolderTested] = field(default_factory=list)
    kind: str = ""
    message: str = ""

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.ok:
            del data["kind"], data["message"]
        else:
            del data["folders"]
        return data


def connection_test(*, connection: Connection) -> ConnectionTestResult:
    """Connect through the connection's transport, log in, and count the zip files waiting in
    each input folder of the profiles that use it (the sub-directory itself when none does).

    A server's key is pinned at the first successful connection (by the transport), so the
    fingerprint returned is the pinned one or the one just pinned. A failure is returned, not
    raised: its kind and the transport's message, which names no secret.
    """
    folders = [
        (profile.code, section, getattr(profile, path_field))
        for profile in connection.profiles.order_by("code")
        for section, path_field in PROFILE_SECTIONS
    ]
    result = ConnectionTestResult(ok=True, connection=connection.name)
    try:
        with transport_for(connection) as transport:
            if not folders:
                transport.list("")
            for profile, section, path in folders:
                count = len(transport.list(path))
                result.folders.append(FolderTested(profile, section, path, count))
    except TransportError as exc:
        return ConnectionTestResult(
            ok=False, connection=connection.name, kind=exc.kind, message=str(exc)
        )
    except PatronsyncError as exc:
        kind = "not_allowed" if server_not_allowed(connection=connection) else "configuration"
        return ConnectionTestResult(
            ok=False, connection=connection.name, kind=kind, message=str(exc)
        )
    connection.refresh_from_db(fields=["host_key_fingerprint", "host_key_pinned_at"])
    result.fingerprint = connection.host_key_fingerprint
    return result


# A test that failed this way reached no server, or one whose key says nothing more.
_UNREACHED = {"dns", "refused", "timeout", "not_allowed", "configuration"}


def connection_host_key_offer(*, connection: Connection, result: ConnectionTestResult) -> str:
    """The server key the test's page offers to trust, or "": after a failed test of a remote
    definition that has no pinned key yet, or whose server showed another key than the pinned
    one, the fingerprint the server shows now, for staff to compare with the one its
    administrator gives. Only the SSH or TLS handshake is sent (`host_key_probe`)."""
    if result.ok or not connection.is_remote or result.kind in _UNREACHED:
        return ""
    if connection.host_key_fingerprint and result.kind != "host_key":
        return ""
    try:
        found = host_key_probe(connection=connection)
    except PatronsyncError:
        return ""
    pinned = connection.host_key_fingerprint
    return "" if pinned and same_fingerprint(pinned, found) else found
