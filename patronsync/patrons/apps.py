"""App configuration for patronsync.patrons."""

from django.apps import AppConfig


class PatronsConfig(AppConfig):
    name = "patronsync.patrons"
    label = "patrons"
    verbose_name = "Users"
