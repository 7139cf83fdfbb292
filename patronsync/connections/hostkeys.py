"""The server keys patronsync trusts: pinned at the first successful connection, then checked.

An SSH server's key is pinned by its fingerprint as OpenSSH prints it (`ssh-keygen -lf`):
`SHA256:` and the base64 of the key's sha256, without padding. An FTPS server's certificate is
pinned by the sha256 of its DER bytes, as `openssl x509 -fingerprint -sha256` prints it:
`SHA256:AB:CD:...`. Campus servers mostly use self-signed certificates, so FTPS is trusted by
this pin, not by a certificate authority.

A definition with no fingerprint pins the key of its first successful connection (a login that
worked). A key that changes afterwards is refused before anything is sent to the server, and
`patronsync connection trust NAME --fingerprint SHA256:...` (`host_key_trust`) accepts the
server's new key only if it is the one given (the one the server's administrator confirmed).
"""

from __future__ import annotations

import base64
import hashlib

from django.utils import timezone

from .models import Connection
from .transports.base import ErrorKind, TransportError


def ssh_key_fingerprint(key_blob: bytes) -> str:
    """The fingerprint of an SSH public key (its wire-format bytes) as OpenSSH prints it."""
    digest = hashlib.sha256(key_blob).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def certificate_fingerprint(der: bytes) -> str:
    """The fingerprint of a certificate (its DER bytes), as `openssl x509 -fingerprint` does."""
    return "SHA256:" + ":".join(f"{byte:02X}" for byte in hashlib.sha256(der).digest())


def same_fingerprint(one: str, other: str) -> bool:
    """Whether two fingerprints are of the same key."""
    # Certificate fingerprints are hex: case does not matter. SSH's are base64: it does.
    if one.count(":") > 1 and other.count(":") > 1:
        return one.upper() == other.upper()
    return one == other


def host_key_changed(*, connection: Connection, pinned: str, found: str) -> TransportError:
    """The error of a server whose key is not the pinned one, with both fingerprints."""
    what = "certificate" if connection.transport == "ftps" else "key"
    return TransportError.of(
        connection,
        kind=ErrorKind.HOST_KEY,
        plain=(
            f"the server's {what} has changed: pinned {pinned}, the server now shows {found}. "
            "Nothing was sent to it (no password, no key). If the change is expected (the "
            f"server was reinstalled or its {what} renewed), `patronsync connection trust "
            f"{connection.name}` accepts the new {what}; otherwise ask the server's "
            "administrator: someone may be posing as the server"
        ),
    )


def host_key_verify(*, connection: Connection, fingerprint: str) -> None:
    """Raise the host-key error when `connection` has a pinned key and `fingerprint` is not it;
    called before logging in. The pin is read from the database, not from `connection` (a
    copy loaded before another process pinned or trusted a key would let the password go to a
    server that is not the pinned one); `connection` is brought up to date with it."""
    if connection.pk is not None:
        for pinned_now, pinned_at in Connection.objects.filter(pk=connection.pk).values_list(
            "host_key_fingerprint", "host_key_pinned_at"
        ):
            connection.host_key_fingerprint, connection.host_key_pinned_at = pinned_now, pinned_at
    pinned = connection.host_key_fingerprint
    if pinned and not same_fingerprint(pinned, fingerprint):
        raise host_key_changed(connection=connection, pinned=pinned, found=fingerprint)


def host_key_pin(*, connection: Connection, fingerprint: str, replace: bool = False) -> bool:
    """Record `fingerprint` as the server's key of `connection`, with the time; True if written.

    Without `replace`, only a definition with no pinned key is written (one conditional
    update: the first successful connection pins, and two jobs connecting at once pin one key);
    a key another process pinned meanwhile is checked against `fingerprint`. `replace` is for
    `host_key_trust`.
    """
    now = timezone.now()
    rows = Connection.objects.filter(pk=connection.pk)
    if not replace:
        rows = rows.filter(host_key_fingerprint="")
    written = bool(rows.update(host_key_fingerprint=fingerprint, host_key_pinned_at=now))
    if written:
        connection.host_key_fingerprint, connection.host_key_pinned_at = fingerprint, now
        return True
    stored = Connection.objects.filter(pk=connection.pk).values_list(
        "host_key_fingerprint", "host_key_pinned_at"
    )
    for pinned, pinned_at in stored:
        connection.host_key_fingerprint, connection.host_key_pinned_at = pinned, pinned_at
        host_key_verify(connection=connection, fingerprint=fingerprint)
    return False


def host_key_probe(*, connection: Connection) -> str:
    """The fingerprint of the key (or certificate) the server of `connection` shows now,
    unchecked: for the administrator to compare with the one the server's administrator gives.
    Nothing is sent to the server but the SSH or TLS handshake: no login."""
    # Here, not at the top: the transports import this module for the checks above.
    from .transports import transport_for

    with transport_for(connection) as transport:
        return transport.probe_fingerprint()


def host_key_trust(*, connection: Connection, fingerprint: str = "") -> str:
    """Pin `fingerprint` as the server's key of `connection` in place of the old one, if the
    server shows exactly that key now; return it.

    For `patronsync connection trust NAME`, after a key change the server's administrator
    confirmed: `fingerprint` is the one they gave (or the one the CLI showed and the
    administrator accepted). A server showing another key is refused with both fingerprints
    and nothing is pinned, and so is a trust without a fingerprint. Nothing is sent to the
    server but the SSH or TLS handshake: no login.
    """
    wanted = fingerprint.strip()
    if not wanted:
        raise TransportError.of(
            connection,
            kind=ErrorKind.HOST_KEY,
            plain=(
                "the fingerprint to trust is missing: give the one the server's administrator "
                "confirmed (`patronsync connection trust "
                f"{connection.name} --fingerprint SHA256:...`); nothing was pinned"
            ),
        )
    found = host_key_probe(connection=connection)
    if not same_fingerprint(found, wanted):
        what = "certificate" if connection.transport == "ftps" else "key"
        raise TransportError.of(
            connection,
            kind=ErrorKind.HOST_KEY,
            plain=(
                f"the server shows the {what} {found}, not {wanted}; nothing was pinned. Check "
                "the fingerprint with the server's administrator: someone may be posing as "
                "the server"
            ),
        )
    host_key_pin(connection=connection, fingerprint=found, replace=True)
    return found
