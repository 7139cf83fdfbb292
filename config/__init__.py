"""Django project configuration for patronsync.

The Celery app is loaded with Django, as Celery's docs ask, so that a job sent from any process
(the web server's, a command's) goes to the broker of PATRONSYNC_BROKER_URL. It costs nothing
more: Django loads Celery anyway (django_celery_beat), and no broker is reached until a job is
sent, which happens only with a broker.
"""

from .celery import app as celery_app

__all__ = ("celery_app",)
