"""Reads of integration profiles worth naming."""

from __future__ import annotations

from patronsync.core.models import Institution

from .choices import ProtectionMode
from .models import IntegrationProfile


def profile_protection_mode(*, institution: Institution, code: str) -> str:
    """The protection mode (`ProtectionMode`) of the profile whose code is `code`, the external
    ID of the users it loads; Alma's rule when no such profile exists (any more)."""
    if not code:
        return ProtectionMode.ALMA
    found = IntegrationProfile.objects.filter(institution=institution, code=code)
    return found.values_list("sync_protection", flat=True).first() or ProtectionMode.ALMA
