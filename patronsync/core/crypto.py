"""Secrets at rest: Fernet encryption for passwords and keys, and a model field that uses it.

The key comes from PATRONSYNC_ENCRYPTION_KEY (settings.ENCRYPTION_KEY). Decrypted values live
only in memory, for the moment a transport needs them; they are never logged or rendered.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

from .exceptions import ConfigurationError


@lru_cache(maxsize=4)
def _fernet(key: str) -> Fernet:
    if not key:
        raise ImproperlyConfigured("PATRONSYNC_ENCRYPTION_KEY is not set")
    try:
        return Fernet(key.encode())
    except ValueError as exc:
        raise ImproperlyConfigured(
            "PATRONSYNC_ENCRYPTION_KEY must be 32 url-safe base64-encoded bytes "
            "(make one with: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())')"
        ) from exc


def encrypt(plaintext: str) -> str:
    """Encrypt `plaintext` with the installation's key; an empty string stays empty."""
    if not plaintext:
        return ""
    return _fernet(settings.ENCRYPTION_KEY).encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    """Decrypt a value made by `encrypt`."""
    if not token:
        return ""
    try:
        return _fernet(settings.ENCRYPTION_KEY).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ConfigurationError(
            "A stored secret cannot be decrypted: PATRONSYNC_ENCRYPTION_KEY has changed since "
            "it was saved. Enter the secret again."
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
