"""View helpers every app's pages share: the institution a request works in, and role checks."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from patronsync.core.models import Institution

from .choices import ROLE_ACTIONS, Action, StaffRole
from .selectors import institutions_for_staff
from .services import staff_role

# The institution a page's form or htmx request was made for: forms carry it as a field (added
# by patronsync.js), htmx sends it as a header (web/base.html). A form opened for one
# institution writes there even after another tab switched the session to another one.
INSTITUTION_FIELD = "institution"
INSTITUTION_HEADER = "HTTP_X_PATRONSYNC_INSTITUTION"


class InstitutionRoleMixin(LoginRequiredMixin):
    """Resolve the current institution and refuse the request unless the account's role there
    allows `required_action`.

    The institution is the one the request names (`?institution=CODE`, a form's `institution`
    field, htmx's institution header), else the session's, else the first the account sees.
    The role is read once per request.
    """

    required_action: str = "view"
    request: HttpRequest
    institution: Institution
    role: str | None

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        visible = institutions_for_staff(user=request.user)  # type: ignore[arg-type]
        code = self._named_institution(request)
        institution = visible.filter(code=code).first() if code else None
        institution = institution or visible.first()
        role = (
            staff_role(user=request.user, institution=institution)  # type: ignore[arg-type]
            if institution is not None
            else None
        )
        if institution is None or role is None or self.required_action not in ROLE_ACTIONS[role]:
            raise PermissionDenied("Your role does not allow this page in this institution.")
        if request.session.get("institution") != institution.code:
            # Written only when it changes: pages polled every second write no session.
            request.session["institution"] = institution.code
        self.institution = institution
        self.role = role
        self.visible_institutions = visible
        return super().dispatch(request, *args, **kwargs)

    @staticmethod
    def _named_institution(request: HttpRequest) -> str | None:
        named = request.GET.get(INSTITUTION_FIELD) or request.META.get(INSTITUTION_HEADER)
        if request.method == "POST":
            named = request.POST.get(INSTITUTION_FIELD) or named
        return named or request.session.get("institution")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)  # type: ignore[misc]
        context["institution"] = self.institution
        context["visible_institutions"] = self.visible_institutions
        context["role_label"] = StaffRole(self.role).label if self.role else ""
        context["can_configure"] = self.may(Action.CONFIGURE)
        context["can_edit_users"] = self.may(Action.EDIT_USERS)
        return context

    def may(self, action: str) -> bool:
        """Whether the account's role in the current institution allows `action`."""
        return self.role is not None and action in ROLE_ACTIONS[self.role]


class ConfigureRequiredMixin(InstitutionRoleMixin):
    """Pages and actions that change configuration or run jobs: General System Administrator."""

    required_action = Action.CONFIGURE


class EditUsersRequiredMixin(InstitutionRoleMixin):
    """Pages and actions that change users: User Manager or General System Administrator."""

    required_action = Action.EDIT_USERS
