"""Django admin for the user store: the operator's escape hatch, read-mostly."""

from django.contrib import admin

from .models import Patron, PatronChange, PatronIdentifier


class PatronIdentifierInline(admin.TabularInline):
    model = PatronIdentifier
    extra = 0
    fields = ("id_type", "value", "segment_type", "note", "status")
    readonly_fields = ("id_type", "value", "segment_type", "note", "status")


@admin.register(Patron)
class PatronAdmin(admin.ModelAdmin):
    list_display = ["primary_id", "last_name", "first_name", "user_group", "status", "account_type"]
    list_filter = ["institution", "status", "account_type", "record_type", "user_group"]
    search_fields = ["primary_id", "last_name", "first_name", "identifiers__value"]
    inlines = [PatronIdentifierInline]
    exclude = ["pin_hash", "password_hash"]


@admin.register(PatronChange)
class PatronChangeAdmin(admin.ModelAdmin):
    list_display = ["created_at", "primary_id", "action", "actor_kind", "actor_label", "job_id"]
    list_filter = ["action", "actor_kind", "institution"]
    search_fields = ["primary_id"]
    readonly_fields = [f.name for f in PatronChange._meta.fields]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False
