"""Writes on staff accounts and the permission rule every view and API call goes through."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable

from django.db import transaction

from patronsync.core.exceptions import PermissionDenied
from patronsync.core.models import Institution

from .choices import READ_ONLY_SCOPES, READ_WRITE_SCOPES, ROLE_ACTIONS, StaffRole
from .models import ApiKey, Membership, StaffUser, scopes_normalize


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


API_KEY_PREFIX_LENGTH = 11  # "ps_" and 8 hex characters


def api_key_hash(key: str) -> str:
    """The SHA-256 of an API key, as stored: the key itself is never kept."""
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def api_key_create(
    *,
    institution: Institution,
    name: str,
    read_only: bool | None = None,
    scopes: Iterable[str] = (),
    created_by: StaffUser | None = None,
    rate_limit_per_minute: int | None = None,
    rate_limit_per_hour: int | None = None,
) -> tuple[ApiKey, str]:
    """Create an API key for `institution`; returns it and the key, which is shown only once.

    The key holds `scopes`, plus `users:read` when `read_only` is True, or `users:read` and
    `users:write` when it is False (the CLI's `--read-only` and `--read-write`). ValueError when
    it would hold none, or names an unknown scope.
    """
    given = set(scopes)
    if read_only is not None:
        given |= READ_ONLY_SCOPES if read_only else READ_WRITE_SCOPES
    normal = scopes_normalize(given)
    if not normal:
        raise ValueError("An API key needs at least one scope (or read-only / read-write).")
    key = f"ps_{secrets.token_hex(4)}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey(
        institution=institution,
        name=name,
        prefix=key[:API_KEY_PREFIX_LENGTH],
        key_hash=api_key_hash(key),
        scopes=normal,
        created_by=created_by,
    )
    if rate_limit_per_minute is not None:
        api_key.rate_limit_per_minute = rate_limit_per_minute
    if rate_limit_per_hour is not None:
        api_key.rate_limit_per_hour = rate_limit_per_hour
    api_key.full_clean(exclude=["prefix", "key_hash"])
    api_key.save()
    return api_key, key


def api_key_revoke(*, api_key: ApiKey) -> None:
    """Revoke a key: every later call with it is refused."""
    if api_key.revoked:
        return
    api_key.revoked = True
    api_key.save(update_fields=["revoked"])


def membership_set(*, user: StaffUser, institution: Institution, role: str) -> Membership:
    """Give the account `role` in `institution` (replacing the role it had there)."""
    if role not in StaffRole.values:
        raise ValueError(f"Unknown role {role!r}; expected one of {', '.join(StaffRole.values)}")
    membership, _ = Membership.objects.update_or_create(
        user=user, institution=institution, defaults={"role": role}
    )
    return membership
