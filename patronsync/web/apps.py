"""The web pages' shell app."""

from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "patronsync.web"
    label = "web"
    verbose_name = "Web pages"
