"""WSGI entry point: `config.wsgi:application`, which `patronsync serve` runs under gunicorn.

Static files are served by whitenoise's middleware (config/settings/base.py), so any WSGI
server serves the admin's CSS without a web server in front.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
application = get_wsgi_application()
