"""Who is calling and in which institutions they may do what: staff sessions and API keys."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet
from rest_framework.request import Request

from patronsync.accounts.choices import Action, ApiScope
from patronsync.accounts.models import ApiKey, StaffUser
from patronsync.accounts.selectors import institutions_for_action
from patronsync.core.models import Institution

# The scope a key needs for an action when the call names none: changing configuration needs
# `config:write`, editing users `users:write`. VIEW needs no scope here: every key reaches its
# own institution's objects, and the permission class asks `users:read` of every read.
ACTION_SCOPES: dict[str, str | None] = {
    Action.VIEW: None,
    Action.EDIT_USERS: ApiScope.USERS_WRITE,
    Action.CONFIGURE: ApiScope.CONFIG_WRITE,
}


@dataclass(frozen=True, slots=True)
class ApiCaller:
    """A staff account (by its roles in each institution) or an API key (its one institution,
    and its scopes)."""

    user: StaffUser | None = None
    api_key: ApiKey | None = None

    @property
    def actor(self) -> str:
        """How the caller is named in `updated_by` fields and job logs."""
        if self.api_key is not None:
            return f"API key {self.api_key.name}"
        return self.user.username if self.user is not None else ""

    def institutions(self, action: str, *, scope: str | None = None) -> QuerySet[Institution]:
        """The institutions where the caller may do `action` (an `accounts.choices.Action`).

        A staff account: where its role allows `action`. A key: its institution, when it holds
        `scope` (by default the one `ACTION_SCOPES` gives `action`).
        """
        if self.api_key is not None:
            needed = scope if scope is not None else ACTION_SCOPES.get(action)
            if needed is not None and not self.api_key.has_scope(needed):
                return Institution.objects.none()
            return Institution.objects.filter(pk=self.api_key.institution_id)
        if self.user is None:
            return Institution.objects.none()
        return institutions_for_action(user=self.user, action=action)

    def can(self, *, institution_id: int, action: str, scope: str | None = None) -> bool:
        return self.institutions(action, scope=scope).filter(pk=institution_id).exists()


def caller_of(request: Request) -> ApiCaller | None:
    """The authenticated caller of `request`, or None."""
    if isinstance(request.auth, ApiKey):
        return ApiCaller(api_key=request.auth)
    user = request.user
    if isinstance(user, StaffUser) and user.is_authenticated and user.is_active:
        return ApiCaller(user=user)
    return None
