"""App configuration of the Alma-compatible API."""

import logging

from django.apps import AppConfig


class AlmawsConfig(AppConfig):
    name = "patronsync.almaws"
    verbose_name = "Alma-compatible API"

    def ready(self) -> None:
        from .logs import RedactApiKeys

        for name in ("django.server", "django.request"):
            logging.getLogger(name).addFilter(RedactApiKeys())
