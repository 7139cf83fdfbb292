"""Django admin for staff accounts and memberships."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import Membership, StaffUser


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1


@admin.register(StaffUser)
class StaffUserAdmin(UserAdmin):
    inlines = [MembershipInline]
