"""Role-based permissions of the API: VIEW for reads, CONFIGURE for every write."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from patronsync.accounts.choices import Action

from .access import caller_of


def required_action(request: Request, view: Any) -> str:
    """The action a call needs: the view's `write_actions` and unsafe methods need CONFIGURE."""
    if request.method in SAFE_METHODS and getattr(view, "action", None) not in getattr(
        view, "write_actions", ()
    ):
        return Action.VIEW
    return Action.CONFIGURE


class HasInstitutionRole(BasePermission):
    """The caller holds the needed action in at least one institution, and in the object's.

    Querysets are limited to the institutions the caller may VIEW, so an object of another
    institution is a 404; a visible object the caller may not change is a 403.
    """

    message = "Your role does not allow this action."

    def has_permission(self, request: Request, view: Any) -> bool:
        caller = caller_of(request)
        if caller is None:
            return False
        action = required_action(request, view)
        if action != Action.VIEW and caller.read_only:
            self.message = "This API key is read-only."
            return False
        return caller.institutions(action).exists()

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        caller = caller_of(request)
        if caller is None:
            return False
        return caller.can(institution_id=obj.institution_id, action=required_action(request, view))
