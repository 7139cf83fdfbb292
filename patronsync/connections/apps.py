"""App configuration for patronsync.connections."""

from django.apps import AppConfig


class ConnectionsConfig(AppConfig):
    name = "patronsync.connections"
    label = "connections"
    verbose_name = "S/FTP connections"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
