"""Reads on staff accounts."""

from __future__ import annotations

from django.db.models import QuerySet

from patronsync.core.models import Institution

from .models import ApiKey, StaffUser


def institutions_for_staff(*, user: StaffUser) -> QuerySet[Institution]:
    """The institutions a staff account may see: its memberships, or all for a superuser."""
    if user.is_superuser:
        return Institution.objects.all()
    return Institution.objects.filter(memberships__user=user).distinct()


def api_key_get_active(*, key: str) -> ApiKey | None:
    """The unrevoked API key whose hash matches `key`, with its institution; None otherwise."""
    from .services import api_key_hash

    if not key:
        return None
    return (
        ApiKey.objects.select_related("institution")
        .filter(key_hash=api_key_hash(key), revoked=False)
        .first()
    )
