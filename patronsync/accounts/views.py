"""View helpers every app's pages share: the institution a request works in, and role checks."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from patronsync.core.models import Institution

from .choices import Action, StaffRole
from .selectors import institutions_for_staff
from .services import staff_can, staff_role


class InstitutionRoleMixin(LoginRequiredMixin):
    """Resolve the current institution (`?institution=CODE`, else the first the account sees)
    and refuse the request unless the account's role there allows `required_action`."""

    required_action: str = "view"
    request: HttpRequest
    institution: Institution

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        visible = institutions_for_staff(user=request.user)  # type: ignore[arg-type]
        code = request.GET.get("institution") or request.session.get("institution")
        institution = visible.filter(code=code).first() if code else None
        institution = institution or visible.first()
        if institution is None or not staff_can(
            user=request.user,  # type: ignore[arg-type]
            institution=institution,
            action=self.required_action,
        ):
            raise PermissionDenied("Your role does not allow this page in this institution.")
        request.session["institution"] = institution.code
        self.institution = institution
        self.visible_institutions = visible
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)  # type: ignore[misc]
        context["institution"] = self.institution
        context["visible_institutions"] = self.visible_institutions
        user = self.request.user
        role = staff_role(user=user, institution=self.institution)  # type: ignore[arg-type]
        context["role_label"] = StaffRole(role).label if role else ""
        context["can_configure"] = self.may(Action.CONFIGURE)
        context["can_edit_users"] = self.may(Action.EDIT_USERS)
        return context

    def may(self, action: str) -> bool:
        """Whether the account's role in the current institution allows `action`."""
        return staff_can(
            user=self.request.user,  # type: ignore[arg-type]
            institution=self.institution,
            action=action,
        )


class ConfigureRequiredMixin(InstitutionRoleMixin):
    """Pages and actions that change configuration or run jobs: General System Administrator."""

    required_action = Action.CONFIGURE


class EditUsersRequiredMixin(InstitutionRoleMixin):
    """Pages and actions that change users: User Manager or General System Administrator."""

    required_action = Action.EDIT_USERS
