"""App configuration for patronsync.jobs."""

from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "patronsync.jobs"
    label = "jobs"
    verbose_name = "Jobs"
