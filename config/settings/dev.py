"""Settings for a developer's machine and the README's quick start: SQLite in ./var, keys made
on first use. DEBUG is off, except in the process of `patronsync serve --dev`."""

import os

from .base import *  # noqa: F403
from .base import DATA_DIR, env, load_or_create_local_secret

# Set by `patronsync serve` for its own process alone (patronsync/commands.py): "1" with --dev.
DEBUG = os.environ.get("PATRONSYNC_SERVE_DEV") == "1"
SECRET_KEY = env("SECRET_KEY") or load_or_create_local_secret(DATA_DIR / "secret_key", "django")
ENCRYPTION_KEY = env("ENCRYPTION_KEY") or load_or_create_local_secret(
    DATA_DIR / "encryption_key", "fernet"
)
