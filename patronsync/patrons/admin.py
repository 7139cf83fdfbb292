"""Django admin for the user store: read-only.

Users are written only through the user store's services (pages, APIs, jobs), which apply the
rules, record history and mark protected fields; the admin therefore shows users and their
history and changes nothing. Who may look follows the roles: any role in the user's institution.
The change-detection hashes and the PIN and password hashes are not shown at all.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from patronsync.accounts.adminroles import RoleAdmin
from patronsync.accounts.choices import Action

from .models import Patron, PatronChange, PatronIdentifier

HIDDEN_FIELDS = ("pin_hash", "password_hash", "content_hash", "raw_hash")


class ReadOnlyRoleAdmin(RoleAdmin):
    """Rows any role of their institution may read, and nobody may add, change or delete here."""

    view_action = Action.VIEW
    write_action = None

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PatronIdentifierInline(admin.TabularInline):
    model = PatronIdentifier
    extra = 0
    fields = ("id_type", "value", "segment_type", "note", "status")
    readonly_fields = fields

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True  # shown on a user's page, which already checked the role

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Patron)
class PatronAdmin(ReadOnlyRoleAdmin):
    list_display = ["primary_id", "last_name", "first_name", "user_group", "status", "account_type"]
    list_filter = [
        ("institution", admin.RelatedOnlyFieldListFilter),
        "status",
        "account_type",
        "record_type",
        "user_group",
    ]
    search_fields = ["primary_id", "last_name", "first_name", "identifiers__value"]
    inlines = [PatronIdentifierInline]
    exclude = HIDDEN_FIELDS


@admin.register(PatronChange)
class PatronChangeAdmin(ReadOnlyRoleAdmin):
    list_display = ["created_at", "primary_id", "action", "actor_kind", "actor_label", "job_id"]
    list_filter = ["action", "actor_kind", ("institution", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["primary_id"]
