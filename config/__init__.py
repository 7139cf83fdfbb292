"""Django project configuration for patronsync."""
