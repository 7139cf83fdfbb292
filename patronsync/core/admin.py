"""Django admin for institutions and code tables: the operator's escape hatch."""

from django.contrib import admin

from .models import CodeTableEntry, Institution


@admin.register(Institution)
class InstitutionAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "time_zone", "created_at"]
    search_fields = ["code", "name"]


@admin.register(CodeTableEntry)
class CodeTableEntryAdmin(admin.ModelAdmin):
    list_display = ["institution", "table", "code", "description", "is_default", "enabled"]
    list_filter = ["institution", "table", "enabled"]
    search_fields = ["code", "description"]
    list_editable = ["description", "enabled"]
