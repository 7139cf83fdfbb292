"""Production settings: every secret must come from the environment; TLS is the proxy's.

Started without PATRONSYNC_SECRET_KEY or PATRONSYNC_ENCRYPTION_KEY, every command stops with
one line saying how to make the key (`patronsync.cli` prints ImproperlyConfigured as a line).
"""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import ENCRYPTION_KEY, SECRET_KEY, env_bool

DEBUG = False
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "PATRONSYNC_SECRET_KEY must be set in production (make one with: python3 -c "
        "'import secrets; print(secrets.token_urlsafe(50))')"
    )
if not ENCRYPTION_KEY:
    raise ImproperlyConfigured(
        "PATRONSYNC_ENCRYPTION_KEY must be set in production, and kept: the S/FTP passwords, "
        "keys and webhook secrets are encrypted with it (make one with: python3 -c "
        "'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"
    )
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
# Behind a reverse proxy that ends TLS and sets `X-Forwarded-Proto: https` (docs/deployment.md):
# Django then knows the request came over HTTPS. Only set it when the proxy always sets (or
# strips) that header: a client could otherwise claim HTTPS itself.
if env_bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = env_bool("USE_X_FORWARDED_HOST", False)
