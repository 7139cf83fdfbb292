"""Django admin for staff accounts, memberships and API keys."""

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest

from .models import ApiKey, Membership, StaffUser
from .services import api_key_create


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1


@admin.register(StaffUser)
class StaffUserAdmin(UserAdmin):
    inlines = [MembershipInline]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """API keys: the key is generated on save and shown once in a message; only its hash is kept."""

    list_display = ["name", "institution", "prefix", "read_only", "revoked", "last_used_at"]
    list_filter = ["institution", "read_only", "revoked"]
    fields = [
        "institution",
        "name",
        "read_only",
        "rate_limit_per_minute",
        "rate_limit_per_hour",
        "revoked",
        "prefix",
        "created_by",
        "created_at",
        "last_used_at",
    ]
    readonly_fields = ["prefix", "created_by", "created_at", "last_used_at"]

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        api_key, key = api_key_create(
            institution=obj.institution,
            name=obj.name,
            read_only=obj.read_only,
            created_by=request.user if isinstance(request.user, StaffUser) else None,
            rate_limit_per_minute=obj.rate_limit_per_minute,
            rate_limit_per_hour=obj.rate_limit_per_hour,
        )
        obj.pk = api_key.pk
        obj.prefix = api_key.prefix
        obj.key_hash = api_key.key_hash
        messages.warning(request, f"Copy the API key now, it is not shown again: {key}")
