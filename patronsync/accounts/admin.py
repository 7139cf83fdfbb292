"""The Django admin for configuration: institutions, code tables, staff accounts and API keys.

Permissions follow patronsync's roles (`adminroles.RoleAdmin`): a General System Administrator
manages these for the institutions they administer. The pages of `core`'s models are registered
here because their permissions come from accounts, which sits above core.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from patronsync.core.models import CodeTableEntry, Institution
from patronsync.core.services import code_table_entry_save, institution_create

from .adminroles import RoleAdmin, RoleInline, role_institution_ids
from .choices import Action, ApiScope, StaffRole
from .models import ApiKey, Membership, StaffUser, scopes_normalize
from .services import api_key_create, membership_set


@admin.register(Institution)
class InstitutionAdmin(RoleAdmin):
    """Institutions: an administrator changes the ones they administer. A new one gets Alma's
    standard code tables, and its creator becomes its General System Administrator. Deleting an
    institution deletes all its users and jobs: only a superuser may."""

    list_display = ["code", "name", "time_zone", "created_at"]
    search_fields = ["code", "name"]
    institution_field = "pk"

    def row_institution_ids(self, obj: Any) -> set[int]:
        return {obj.pk}

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    def save_model(self, request: HttpRequest, obj: Institution, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        values = {name: getattr(obj, name) for name in form.cleaned_data}
        created = institution_create(**values)
        obj.pk = created.pk
        if isinstance(request.user, StaffUser) and not request.user.is_superuser:
            membership_set(
                user=request.user,
                institution=created,
                role=StaffRole.GENERAL_SYSTEM_ADMINISTRATOR,
            )


@admin.register(CodeTableEntry)
class CodeTableEntryAdmin(RoleAdmin):
    """Code-table rows of the institutions one administers (also `code_tables:` in
    `patronsync config apply`). Marking a row default unmarks the table's other default."""

    list_display = ["institution", "table", "code", "description", "is_default", "enabled"]
    list_filter = [("institution", admin.RelatedOnlyFieldListFilter), "table", "enabled"]
    search_fields = ["code", "description"]
    list_editable = ["description", "enabled"]

    def save_model(
        self, request: HttpRequest, obj: CodeTableEntry, form: Any, change: bool
    ) -> None:
        code_table_entry_save(entry=obj)


class MembershipInline(RoleInline):
    model = Membership
    extra = 1


@admin.register(StaffUser)
class StaffUserAdmin(RoleAdmin, UserAdmin):
    """Staff accounts with a role in one's institutions, and accounts with no role yet.

    An administrator changes an account only when every role it holds is in institutions they
    administer (otherwise a password change would reach into another institution). Django's
    groups and per-user permissions are not shown: roles decide. Only a superuser sees or sets
    the superuser flag.
    """

    inlines = [MembershipInline]
    list_filter = ["is_active"]
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        ("Access", {"fields": ("is_active",)}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    superuser_fieldsets = (
        *fieldsets[:2],
        ("Access", {"fields": ("is_active", "is_superuser")}),
        fieldsets[3],
    )

    def row_institution_ids(self, obj: Any) -> set[int]:
        return set(obj.memberships.values_list("institution_id", flat=True))

    def allows(self, request: HttpRequest, action: str | None, obj: Any = None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().allows(request, action, obj)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Seen when it holds a role in one of one's institutions (or none yet); changed only
        # when all its roles are there.
        if obj is None or request.user.is_superuser:
            return super().has_view_permission(request, obj)
        ids = self.row_institution_ids(obj)
        shared = ids & role_institution_ids(request, Action.CONFIGURE)
        return not obj.is_superuser and (not ids or bool(shared))

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None and request.user.is_superuser:
            return self.superuser_fieldsets
        return super().get_fieldsets(request, obj)

    def get_queryset(self, request: HttpRequest) -> QuerySet[StaffUser]:
        users = UserAdmin.get_queryset(self, request)
        if request.user.is_superuser:
            return users
        allowed = role_institution_ids(request, Action.CONFIGURE)
        return (
            users.filter(is_superuser=False)
            .filter(Q(memberships__institution__in=allowed) | Q(memberships=None))
            .distinct()
        )

    def save_model(self, request: HttpRequest, obj: StaffUser, form: Any, change: bool) -> None:
        if not change:
            obj.is_staff = True  # may sign in; what they may do is decided by memberships
        super().save_model(request, obj, form, change)


class ApiKeyForm(forms.ModelForm):
    """An API key's fields, its scopes as one checkbox each."""

    scopes = forms.MultipleChoiceField(
        choices=ApiScope.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="config:write changes connections and profiles; give it only to keys that must.",
    )

    class Meta:
        model = ApiKey
        fields = ["institution", "name", "scopes", "rate_limit_per_minute", "rate_limit_per_hour"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.initial["scopes"] = sorted(self.instance.scope_set)
        else:
            self.initial.setdefault("scopes", [ApiScope.USERS_READ])

    def clean_scopes(self) -> str:
        return scopes_normalize(self.cleaned_data["scopes"])


@admin.register(ApiKey)
class ApiKeyAdmin(RoleAdmin):
    """API keys: the key is generated on save and shown once in a message; only its hash is kept."""

    form = ApiKeyForm
    list_display = ["name", "institution", "prefix", "scopes", "revoked", "last_used_at"]
    list_filter = [("institution", admin.RelatedOnlyFieldListFilter), "revoked"]
    fields = [
        "institution",
        "name",
        "scopes",
        "rate_limit_per_minute",
        "rate_limit_per_hour",
        "revoked",
        "prefix",
        "created_by",
        "created_at",
        "last_used_at",
    ]
    readonly_fields = ["prefix", "created_by", "created_at", "last_used_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # A key stays in the institution it was made for.
        return [*self.readonly_fields, "institution"] if obj is not None else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        api_key, key = api_key_create(
            institution=obj.institution,
            name=obj.name,
            scopes=obj.scope_set,
            created_by=request.user if isinstance(request.user, StaffUser) else None,
            rate_limit_per_minute=obj.rate_limit_per_minute,
            rate_limit_per_hour=obj.rate_limit_per_hour,
        )
        obj.pk = api_key.pk
        obj.prefix = api_key.prefix
        obj.key_hash = api_key.key_hash
        messages.warning(request, f"Copy the API key now, it is not shown again: {key}")
