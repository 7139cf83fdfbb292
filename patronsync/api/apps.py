"""App configuration of patronsync's own REST API."""

from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "patronsync.api"
    label = "patronsync_api"
    verbose_name = "patronsync API"

    def ready(self) -> None:
        # Registers the OpenAPI description of the API-key authentication.
        from . import schema  # noqa: F401
