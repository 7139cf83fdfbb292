"""Settings for the test suite: a temporary SQLite database, or PostgreSQL from DATABASE_URL."""

import tempfile
from pathlib import Path

from cryptography.fernet import Fernet

from .base import *  # noqa: F403
from .base import SQLITE_ENGINE

DEBUG = False
SECRET_KEY = "test-only-secret-key-not-for-production"
ENCRYPTION_KEY = Fernet.generate_key().decode()
DATA_DIR = Path(tempfile.mkdtemp(prefix="patronsync-test-"))
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tests drop feeds in pytest's tmp_path; the tenancy tests set their own roots.
PATRONSYNC_LOCAL_ROOTS = f"*={tempfile.gettempdir()}"
# No institution is in implementation, so tests reach their own loopback servers; the tests of
# the Allowed S/FTP Connections rule (patronsync/connections/tests/test_allowed.py) set it.
PATRONSYNC_IN_IMPLEMENTATION = ""
# django-axes needs the request at every authenticate(); the test client's login() has none.
# The throttling tests (patronsync/tests/test_login_throttle.py) turn it on.
AXES_ENABLED = False
if DATABASES["default"]["ENGINE"] == SQLITE_ENGINE:  # noqa: F405
    DATABASES["default"]["NAME"] = DATA_DIR / "patronsync.sqlite3"  # noqa: F405
