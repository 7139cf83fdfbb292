"""App configuration for patronsync.profiles."""

from django.apps import AppConfig


class ProfilesConfig(AppConfig):
    name = "patronsync.profiles"
    label = "profiles"
    verbose_name = "Integration profiles"
