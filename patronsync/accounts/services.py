"""Writes on staff accounts and the permission rule every view and API call goes through."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from patronsync.core.exceptions import PermissionDenied
from patronsync.core.models import Institution

from .choices import READ_ONLY_SCOPES, READ_WRITE_SCOPES, ROLE_ACTIONS, StaffRole
from .models import ApiKey, ApiKeyUsage, Membership, StaffUser, scopes_normalize


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


@dataclass(frozen=True, slots=True)
class RateCheck:
    """The outcome of counting one call: allowed or not, calls left, seconds until a reset."""

    allowed: bool
    remaining: int | None
    retry_after: int


RATE_WINDOWS = (("m", 60, "rate_limit_per_minute"), ("h", 3600, "rate_limit_per_hour"))


def _count_in_window(*, api_key: ApiKey, window: str, start: dt.datetime) -> int:
    usage, _ = ApiKeyUsage.objects.get_or_create(key=api_key, window=window, window_start=start)
    ApiKeyUsage.objects.filter(pk=usage.pk).update(count=F("count") + 1)
    return ApiKeyUsage.objects.values_list("count", flat=True).get(pk=usage.pk)


@transaction.atomic
def api_key_use(*, api_key: ApiKey, now: dt.datetime | None = None) -> RateCheck:
    """Count one call with `api_key` in its fixed minute and hour windows, and say if it may run.

    The counters are rows updated with `count = count + 1`, so several server processes share
    them. A refused call is counted too; it does not touch `last_used_at`.
    """
    now = now or timezone.now()
    allowed = True
    remaining: int | None = None
    retry_after = 0
    for window, seconds, limit_field in RATE_WINDOWS:
        limit: int = getattr(api_key, limit_field)
        if not limit:
            continue
        epoch = int(now.timestamp())
        start = dt.datetime.fromtimestamp(epoch - epoch % seconds, tz=dt.UTC)
        count = _count_in_window(api_key=api_key, window=window, start=start)
        left = max(limit - count, 0)
        remaining = left if remaining is None else min(remaining, left)
        if count > limit:
            allowed = False
            retry_after = max(retry_after, int((start - now).total_seconds()) + seconds)
    if allowed:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        old = now - dt.timedelta(hours=2)
        ApiKeyUsage.objects.filter(key=api_key, window_start__lt=old).delete()
    return RateCheck(allowed=allowed, remaining=remaining, retry_after=max(retry_after, 1))


def membership_set(*, user: StaffUser, institution: Institution, role: str) -> Membership:
    """Give the account `role` in `institution` (replacing the role it had there)."""
    if role not in StaffRole.values:
        raise ValueError(f"Unknown role {role!r}; expected one of {', '.join(StaffRole.values)}")
    membership, _ = Membership.objects.update_or_create(
        user=user, institution=institution, defaults={"role": role}
    )
    return membership
