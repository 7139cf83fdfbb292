"""App configuration for patronsync.notifications."""

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "patronsync.notifications"
    label = "notifications"
    verbose_name = "Notifications"
