"""Permissions of the API: roles for staff accounts, scopes for API keys, per institution.

- A read (GET) needs VIEW (every role), or a key with `users:read`.
- Starting, cancelling, approving or rejecting a job, or running or purging a profile, needs
  CONFIGURE (a General System Administrator), or a key with `users:write`: jobs write users.
- Every other write (connections, profiles) needs CONFIGURE, or a key with `config:write`.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from patronsync.accounts.choices import Action, ApiScope

from .access import caller_of

# The writes a `users:write` key may make, by viewset basename: running jobs writes users, it
# does not change configuration. Every other write needs `config:write`.
USERS_WRITE_ACTIONS: dict[str, frozenset[str]] = {
    "job": frozenset({"create", "cancel", "approve", "reject"}),
    "profile": frozenset({"run", "purge"}),  # a purge removes users
}


def is_write(request: Request, view: Any) -> bool:
    """Unsafe methods and the view's `write_actions` write."""
    return request.method not in SAFE_METHODS or getattr(view, "action", None) in getattr(
        view, "write_actions", ()
    )


def required_action(request: Request, view: Any) -> str:
    """The staff action a call needs: VIEW for reads, CONFIGURE for every write."""
    return Action.CONFIGURE if is_write(request, view) else Action.VIEW


def required_scope(request: Request, view: Any) -> str:
    """The scope a key needs for the call (see the module's table)."""
    if not is_write(request, view):
        return ApiScope.USERS_READ
    user_writes = USERS_WRITE_ACTIONS.get(getattr(view, "basename", ""), frozenset())
    if getattr(view, "action", None) in user_writes:
        return ApiScope.USERS_WRITE
    return ApiScope.CONFIG_WRITE


class HasInstitutionRole(BasePermission):
    """The caller may do the call's action in at least one institution, and in the object's.

    Querysets are limited to the institutions the caller reaches (a staff account's, a key's
    own), so an object of another institution is a 404; a visible object the caller may not
    change is a 403.
    """

    message = "Your role does not allow this action."

    def has_permission(self, request: Request, view: Any) -> bool:
        caller = caller_of(request)
        if caller is None:
            return False
        action, scope = required_action(request, view), required_scope(request, view)
        if caller.api_key is not None and not caller.api_key.has_scope(scope):
            self.message = f"This API key lacks the scope {scope}."
            return False
        return caller.institutions(action, scope=scope).exists()

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        caller = caller_of(request)
        institution_id = getattr(obj, "institution_id", None)
        if caller is None or institution_id is None:
            # Not a stored row: the browsable API asks about a result it rendered (a connection
            # test's findings) to decide whether to show a form. The row the result came from
            # was checked when the view fetched it; a result alone grants nothing.
            return False
        return caller.can(
            institution_id=institution_id,
            action=required_action(request, view),
            scope=required_scope(request, view),
        )
