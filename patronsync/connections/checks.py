"""System checks of connections: PATRONSYNC_LOCAL_ROOTS is read at start, not at the first job."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, register
from django.core.exceptions import ImproperlyConfigured

from .roots import local_roots_entries


@register()
def local_roots_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """An error naming the bad entry of PATRONSYNC_LOCAL_ROOTS, if it has one."""
    try:
        local_roots_entries()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), hint="See docs/configuration.md.", id="connections.E001")]
    return []
