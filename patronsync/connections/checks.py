"""System checks of connections: PATRONSYNC_LOCAL_ROOTS and the keys of
PATRONSYNC_ENCRYPTION_KEY are read at start, not at the first job that needs them."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register
from django.core.exceptions import ImproperlyConfigured

from patronsync.core.crypto import encryption_keys_check

from .roots import local_roots_entries


@register()
def local_roots_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """An error naming the bad entry of PATRONSYNC_LOCAL_ROOTS, if it has one."""
    try:
        local_roots_entries()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), hint="See docs/configuration.md.", id="connections.E001")]
    return []


@register()
def encryption_keys_startup_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """An error naming the bad key of PATRONSYNC_ENCRYPTION_KEY (its position, never its value),
    if one is not a Fernet key. An empty setting is the production settings' own error."""
    if not settings.ENCRYPTION_KEY:
        return []
    try:
        encryption_keys_check(settings.ENCRYPTION_KEY)
    except ImproperlyConfigured as exc:
        return [Error(str(exc), hint="See docs/configuration.md.", id="connections.E002")]
    return []
