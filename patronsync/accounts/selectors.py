"""Reads on staff accounts."""

from __future__ import annotations

from django.db.models import QuerySet

from patronsync.core.models import Institution

from .choices import ROLE_ACTIONS
from .models import ApiKey, StaffUser


def institutions_for_staff(*, user: StaffUser) -> QuerySet[Institution]:
    """The institutions a staff account may see: its memberships, or all for a superuser."""
    if user.is_superuser:
        return Institution.objects.all()
    return Institution.objects.filter(memberships__user=user).distinct()


def institutions_for_action(*, user: StaffUser, action: str) -> QuerySet[Institution]:
    """The institutions where the account's role allows `action` (all for a superuser, none for
    an inactive account): the same rule as `staff_can`, for many institutions in one query."""
    if not user.is_active:
        return Institution.objects.none()
    if user.is_superuser:
        return Institution.objects.all()
    roles = [role for role, actions in ROLE_ACTIONS.items() if action in actions]
    return Institution.objects.filter(
        memberships__user=user, memberships__role__in=roles
    ).distinct()


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
