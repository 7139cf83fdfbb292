"""Staff accounts and their memberships in institutions."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models

from patronsync.core.models import Institution

from .choices import ApiScope, StaffRole


def scopes_normalize(scopes: str | list[str] | set[str] | frozenset[str]) -> str:
    """Scopes as stored: known ones, space-separated, in ApiScope's order; ValueError names an
    unknown one."""
    given = set(scopes.split() if isinstance(scopes, str) else scopes)
    unknown = sorted(given - set(ApiScope.values))
    if unknown:
        raise ValueError(
            f"Unknown API key scope {unknown[0]!r}; expected one of {', '.join(ApiScope.values)}"
        )
    return " ".join(scope for scope in ApiScope.values if scope in given)


def validate_scopes(value: str) -> None:
    try:
        normal = scopes_normalize(value)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None
    if not normal:
        raise ValidationError(f"A key needs at least one scope: {', '.join(ApiScope.values)}.")


class StaffUser(AbstractUser):
    """A library staff login. What it may do is decided per institution by its memberships."""

    class Meta:
        verbose_name = "staff account"


class Membership(models.Model):
    """A staff account's role in one institution; an account sees only its institutions."""

    user = models.ForeignKey(StaffUser, on_delete=models.CASCADE, related_name="memberships")
    institution = models.ForeignKey(
        Institution, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=StaffRole.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "institution"], name="one_role_per_institution")
        ]

    def __str__(self) -> str:
        return f"{self.user} is {self.get_role_display()} in {self.institution.code}"


class ApiKey(models.Model):
    """A key for the Alma-compatible API (/almaws/v1/) of one institution.

    Only the SHA-256 of the key is stored; `prefix` (the key's first characters) identifies it in
    lists. `scopes` (space-separated `ApiScope` values) say what it may do: `users:read` and
    `users:write` on users and jobs, `config:write` on connections and profiles. Calls are
    limited per minute and per hour (0 = no limit).
    """

    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.CharField(
        max_length=100,
        default=ApiScope.USERS_READ,
        validators=[validate_scopes],
        help_text="Space-separated: users:read, users:write, config:write.",
    )
    rate_limit_per_minute = models.PositiveIntegerField(default=300)
    rate_limit_per_hour = models.PositiveIntegerField(default=10000)
    created_by = models.ForeignKey(
        StaffUser, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked = models.BooleanField(default=False)

    class Meta:
        verbose_name = "API key"
        ordering = ["institution", "name"]
        constraints = [
            models.UniqueConstraint(fields=["institution", "name"], name="api_key_name_unique")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes.split())

    def has_scope(self, scope: str) -> bool:
        return scope in self.scope_set

    def allows_users(self, *, write: bool) -> bool:
        """Whether the key may read (`users:read`) or write (`users:write`) users."""
        return self.has_scope(ApiScope.USERS_WRITE if write else ApiScope.USERS_READ)

    @property
    def read_only(self) -> bool:
        """The key holds no write scope."""
        return not self.scope_set & {ApiScope.USERS_WRITE, ApiScope.CONFIG_WRITE}
