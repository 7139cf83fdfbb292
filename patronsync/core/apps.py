"""App configuration for patronsync.core."""

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "patronsync.core"
    label = "core"
    verbose_name = "Platform"
