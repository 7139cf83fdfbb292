"""Reads on staff accounts."""

from __future__ import annotations

from django.db.models import QuerySet

from patronsync.core.models import Institution

from .models import StaffUser


def institutions_for_staff(*, user: StaffUser) -> QuerySet[Institution]:
    """The institutions a staff account may see: its memberships, or all for a superuser."""
    if user.is_superuser:
        return Institution.objects.all()
    return Institution.objects.filter(memberships__user=user).distinct()
