"""Secrets at rest: Fernet encryption for passwords and keys, and a model field that uses it.

The keys come from PATRONSYNC_ENCRYPTION_KEY (settings.ENCRYPTION_KEY): one Fernet key, or
several separated by commas. The first encrypts, every one decrypts (`MultiFernet`), so a key is
rotated by putting the new key first, running `patronsync secrets rotate` (`secrets_rotate`),
then dropping the old key. Decrypted values live only in memory, for the moment a transport
needs them; they are never logged or rendered.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models, transaction
from django.db.models.functions import Cast

from .exceptions import ConfigurationError

MAKE_KEY = (
    "make one with: python -c 'from cryptography.fernet import Fernet; "
    "print(Fernet.generate_key().decode())'"
)


def encryption_keys(value: str) -> list[str]:
    """The keys of a PATRONSYNC_ENCRYPTION_KEY value, first (the encrypting one) first."""
    return [key.strip() for key in value.split(",") if key.strip()]


@lru_cache(maxsize=8)
def _fernets(value: str) -> tuple[Fernet, ...]:
    keys = encryption_keys(value)
    if not keys:
        raise ImproperlyConfigured("PATRONSYNC_ENCRYPTION_KEY is not set")
    fernets = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key.encode()))
        except ValueError as exc:
            which = f"key {position} of {len(keys)}" if len(keys) > 1 else "the key"
            raise ImproperlyConfigured(
                f"PATRONSYNC_ENCRYPTION_KEY: {which} is not 32 url-safe base64-encoded bytes "
                f"({MAKE_KEY}); several keys are separated by commas"
            ) from exc
    return tuple(fernets)


def encryption_keys_check(value: str) -> None:
    """Raise ImproperlyConfigured naming the first key of `value` that is not a Fernet key."""
    _fernets(value)


def _multi() -> MultiFernet:
    return MultiFernet(list(_fernets(settings.ENCRYPTION_KEY)))


def encrypt(plaintext: str) -> str:
    """Encrypt `plaintext` with the installation's first key; an empty string stays empty."""
    if not plaintext:
        return ""
    return _multi().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    """Decrypt a value made by `encrypt` with any of the installation's keys."""
    if not token:
        return ""
    try:
        return _multi().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ConfigurationError(
            "A stored secret cannot be decrypted: it was saved with a key that "
            "PATRONSYNC_ENCRYPTION_KEY no longer holds. Put the old key back (after the new "
            "one, comma-separated) and run `patronsync secrets rotate`, or enter the secret "
            "again."
        ) from exc


def encrypt_bytes(data: bytes) -> bytes:
    """Encrypt `data` (a rejected user's XML, which may carry a PIN or password) like `encrypt`."""
    return _multi().encrypt(data)


def decrypt_bytes(token: bytes) -> bytes:
    """Decrypt a value made by `encrypt_bytes`; ConfigurationError as `decrypt` for a lost key."""
    try:
        return _multi().decrypt(token)
    except InvalidToken as exc:
        raise ConfigurationError(
            "Kept data cannot be decrypted: it was saved with a key that "
            "PATRONSYNC_ENCRYPTION_KEY no longer holds. Put the old key back after the new one."
        ) from exc


class SecretValue(str):
    """A decrypted secret whose repr never shows the value (safe in tracebacks and logs)."""

    def __repr__(self) -> str:
        return "SecretValue('********')" if self else "SecretValue('')"


class EncryptedTextField(models.TextField):
    """A text column stored encrypted; reads give a `SecretValue`."""

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> SecretValue | None:
        if value is None:
            return None
        return SecretValue(decrypt(value))

    def get_prep_value(self, value: Any) -> str | None:
        if value is None:
            return None
        return encrypt(str(value))


# Rotation -------------------------------------------------------------------------------------


@dataclass
class RotationCount:
    """What `secrets_rotate` did to one encrypted column: never the values."""

    label: str
    rotated: int = 0
    current: int = 0
    empty: int = 0

    def __str__(self) -> str:
        return (
            f"{self.label}: {self.rotated} re-encrypted, {self.current} already with the first "
            f"key, {self.empty} empty"
        )


def encrypted_fields() -> list[tuple[type[models.Model], EncryptedTextField]]:
    """Every `EncryptedTextField` of every installed model, by model label and field name."""
    found = [
        (model, field)
        for model in apps.get_models()
        for field in model._meta.get_fields()
        if isinstance(field, EncryptedTextField)
    ]
    return sorted(found, key=lambda pair: (pair[0]._meta.label, pair[1].name))


@transaction.atomic
def secrets_rotate() -> list[RotationCount]:
    """Re-encrypt every stored secret with the first key of PATRONSYNC_ENCRYPTION_KEY.

    The stored tokens are read as they are (not decrypted by the field); a token the first key
    already opens is left alone, so a second run changes nothing. All or nothing: a token no key
    opens stops the rotation, names its row, and nothing is written.
    """
    fernets = _fernets(settings.ENCRYPTION_KEY)
    first, multi = fernets[0], MultiFernet(list(fernets))
    counts = []
    for model, field in encrypted_fields():
        count = RotationCount(label=f"{model._meta.label}.{field.name}")
        raw = model._default_manager.annotate(
            _stored=Cast(field.name, output_field=models.TextField())
        ).values_list("pk", "_stored")
        for pk, token in raw.iterator():
            if not token:
                count.empty += 1
                continue
            try:
                first.decrypt(token.encode())
            except InvalidToken:
                pass
            else:
                count.current += 1
                continue
            try:
                plaintext = multi.decrypt(token.encode()).decode()
            except InvalidToken:
                raise ConfigurationError(
                    f"{count.label} of row {pk} cannot be decrypted with any key of "
                    "PATRONSYNC_ENCRYPTION_KEY; nothing was rotated. Add the key it was saved "
                    "with (after the new one) and run the rotation again."
                ) from None
            # The field encrypts the plain value again, with the first key.
            model._default_manager.filter(pk=pk).update(**{field.name: plaintext})
            count.rotated += 1
        counts.append(count)
    return counts
