"""Writes on staff accounts and the permission rule every view and API call goes through."""

from __future__ import annotations

from django.db import transaction

from patronsync.core.exceptions import PermissionDenied
from patronsync.core.models import Institution

from .choices import ROLE_ACTIONS, StaffRole
from .models import Membership, StaffUser


@transaction.atomic
def staff_create(
    *,
    username: str,
    password: str,
    email: str = "",
    memberships: dict[Institution, str],
    is_superuser: bool = False,
) -> StaffUser:
    """Create a staff account with a role in each given institution."""
    for role in memberships.values():
        if role not in StaffRole.values:
            raise ValueError(
                f"Unknown role {role!r}; expected one of {', '.join(StaffRole.values)}"
            )
    user = StaffUser(username=username, email=email, is_superuser=is_superuser)
    user.is_staff = True  # may sign in; what they may do is decided by memberships
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    for institution, role in memberships.items():
        Membership.objects.create(user=user, institution=institution, role=role)
    return user


def staff_role(*, user: StaffUser, institution: Institution) -> str | None:
    """The account's role in `institution`, or None when it has no access there."""
    if not user.is_active:
        return None
    if user.is_superuser:
        return StaffRole.GENERAL_SYSTEM_ADMINISTRATOR
    membership = Membership.objects.filter(user=user, institution=institution).first()
    return membership.role if membership else None


def staff_can(*, user: StaffUser, institution: Institution, action: str) -> bool:
    role = staff_role(user=user, institution=institution)
    return role is not None and action in ROLE_ACTIONS[role]


def staff_require(*, user: StaffUser, institution: Institution, action: str) -> None:
    """Raise PermissionDenied unless the account may do `action` in `institution`."""
    if not staff_can(user=user, institution=institution, action=action):
        raise PermissionDenied(
            f"{user.username} may not {action.replace('_', ' ')} in {institution.code}"
        )
