"""App configuration for patronsync.accounts."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "patronsync.accounts"
    label = "accounts"
    verbose_name = "Staff accounts"
