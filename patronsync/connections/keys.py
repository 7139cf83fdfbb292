"""SSH key pairs for S/FTP definitions: patronsync logs in with the private key, the server
administrator installs the public key in the account's `authorized_keys`."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def ssh_keypair_new(*, comment: str) -> tuple[str, str]:
    """A new Ed25519 key pair: (private key in OpenSSH PEM format, public key as
    `ssh-ed25519 AAAA... comment`, one line, ready for `authorized_keys`).

    The private key is not protected by a passphrase: the caller stores it encrypted
    (`patronsync.core.crypto`) and never shows it.
    """
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.OpenSSH,
        encryption_algorithm=serialization.NoEncryption(),
    ).decode("ascii")
    public = (
        key.public_key()
        .public_bytes(
            encoding=serialization.Encoding.OpenSSH,
            format=serialization.PublicFormat.OpenSSH,
        )
        .decode("ascii")
    )
    comment = " ".join(comment.split())  # one line whatever the caller passes
    return private, f"{public} {comment}" if comment else public
