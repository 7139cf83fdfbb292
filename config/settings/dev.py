"""Settings for a developer's machine and the README's quick start: SQLite in ./var, DEBUG on."""

from .base import *  # noqa: F403
from .base import DATA_DIR, env, env_bool, load_or_create_local_secret

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env("SECRET_KEY") or load_or_create_local_secret(DATA_DIR / "secret_key", "django")
ENCRYPTION_KEY = env("ENCRYPTION_KEY") or load_or_create_local_secret(
    DATA_DIR / "encryption_key", "fernet"
)
