"""Django admin classes whose permissions follow patronsync's roles, institution by institution.

Django's model permissions (groups, per-user permissions) are not used: an account may do on an
admin page what its role allows in the row's institution, exactly as on every other page and API
call (`accounts.choices.ROLE_ACTIONS`). A General System Administrator of `main` therefore edits
`main`'s code tables, staff and API keys and sees nothing of another institution; a superuser
sees everything. See docs/administrator-guide.md.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.forms import ModelChoiceField
from django.http import HttpRequest

from patronsync.core.models import Institution

from .choices import Action
from .models import StaffUser
from .selectors import institutions_for_action

_CACHE = "_patronsync_role_institutions"


def role_institution_ids(request: HttpRequest, action: str) -> frozenset[int]:
    """Ids of the institutions where the signed-in account may do `action`; one query per
    request and action (the admin asks for every model on every page)."""
    cache: dict[str, frozenset[int]] = request.__dict__.setdefault(_CACHE, {})
    if action not in cache:
        user = request.user
        if not isinstance(user, StaffUser):
            cache[action] = frozenset()
        else:
            ids = institutions_for_action(user=user, action=action).values_list("pk", flat=True)
            cache[action] = frozenset(ids)
    return cache[action]


class RoleAdmin(admin.ModelAdmin):
    """A model admin of rows that belong to an institution, with permissions from roles.

    An account sees the rows of the institutions where its role allows `view_action`, and may
    add, change and delete rows where it allows `write_action`. `institution_field` is the path
    from the model to its institution's id.
    """

    view_action: str = Action.CONFIGURE
    write_action: str | None = Action.CONFIGURE
    institution_field = "institution_id"

    def row_institution_ids(self, obj: Any) -> set[int]:
        """The institutions a row belongs to (one for most models)."""
        return {getattr(obj, self.institution_field)}

    def allows(self, request: HttpRequest, action: str | None, obj: Any = None) -> bool:
        if action is None:
            return False
        allowed = role_institution_ids(request, action)
        if obj is None:
            return bool(allowed)
        return self.row_institution_ids(obj) <= allowed

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.allows(request, self.view_action, obj) or self.has_change_permission(
            request, obj
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.allows(request, self.write_action)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.allows(request, self.write_action, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.allows(request, self.write_action, obj)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        rows = super().get_queryset(request)
        if request.user.is_superuser:
            return rows
        visible = role_institution_ids(request, self.view_action)
        if self.write_action is not None:
            visible |= role_institution_ids(request, self.write_action)
        return rows.filter(**{f"{self.institution_field}__in": visible})

    def formfield_for_foreignkey(
        self, db_field: Any, request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField | None:
        if db_field.related_model is Institution and self.write_action is not None:
            kwargs["queryset"] = Institution.objects.filter(
                pk__in=role_institution_ids(request, self.write_action)
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class RoleInline(admin.TabularInline):
    """An inline of institution rows on a parent page: shown and editable as the parent page
    allows, limited to the institutions where the account may configure."""

    institution_field = "institution_id"

    def _allowed(self, request: HttpRequest) -> frozenset[int]:
        return role_institution_ids(request, Action.CONFIGURE)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        rows = super().get_queryset(request)
        if request.user.is_superuser:
            return rows
        return rows.filter(**{f"{self.institution_field}__in": self._allowed(request)})

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(self._allowed(request))

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(self._allowed(request))

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(self._allowed(request))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(self._allowed(request))

    def formfield_for_foreignkey(
        self, db_field: Any, request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField | None:
        if db_field.related_model is Institution:
            kwargs["queryset"] = Institution.objects.filter(pk__in=self._allowed(request))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
