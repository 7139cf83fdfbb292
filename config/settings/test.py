"""Settings for the test suite: a temporary SQLite database, or PostgreSQL from DATABASE_URL."""

import tempfile
from pathlib import Path

from cryptography.fernet import Fernet

from .base import *  # noqa: F403

DEBUG = False
SECRET_KEY = "test-only-secret-key-not-for-production"
ENCRYPTION_KEY = Fernet.generate_key().decode()
DATA_DIR = Path(tempfile.mkdtemp(prefix="patronsync-test-"))
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tests drop feeds in pytest's tmp_path; the tenancy tests set their own roots.
PATRONSYNC_LOCAL_ROOTS = f"*={tempfile.gettempdir()}"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["NAME"] = DATA_DIR / "patronsync.sqlite3"  # noqa: F405
