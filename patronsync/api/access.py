"""Who is calling and in which institutions they may do what: staff sessions and API keys."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet
from rest_framework.request import Request

from patronsync.accounts.choices import Action
from patronsync.accounts.models import ApiKey, StaffUser
from patronsync.accounts.selectors import institutions_for_staff
from patronsync.accounts.services import staff_can
from patronsync.core.models import Institution


@dataclass(frozen=True, slots=True)
class ApiCaller:
    """A staff account (by its roles) or an API key (its institution; writes if read-write)."""

    user: StaffUser | None = None
    api_key: ApiKey | None = None

    @property
    def actor(self) -> str:
        """How the caller is named in `updated_by` fields and job logs."""
        if self.api_key is not None:
            return f"API key {self.api_key.name}"
        return self.user.username if self.user is not None else ""

    @property
    def read_only(self) -> bool:
        return self.api_key is not None and self.api_key.read_only

    def institutions(self, action: str) -> QuerySet[Institution]:
        """The institutions where the caller may do `action` (an `accounts.choices.Action`)."""
        if self.api_key is not None:
            if action != Action.VIEW and self.api_key.read_only:
                return Institution.objects.none()
            return Institution.objects.filter(pk=self.api_key.institution_id)
        if self.user is None:
            return Institution.objects.none()
        user = self.user
        allowed = [
            institution.pk
            for institution in institutions_for_staff(user=user)
            if staff_can(user=user, institution=institution, action=action)
        ]
        return Institution.objects.filter(pk__in=allowed)

    def can(self, *, institution_id: int, action: str) -> bool:
        return self.institutions(action).filter(pk=institution_id).exists()


def caller_of(request: Request) -> ApiCaller | None:
    """The authenticated caller of `request`, or None."""
    if isinstance(request.auth, ApiKey):
        return ApiCaller(api_key=request.auth)
    user = request.user
    if isinstance(user, StaffUser) and user.is_authenticated and user.is_active:
        return ApiCaller(user=user)
    return None
