"""Settings shared by every environment; what an operator may change comes from PATRONSYNC_*."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env(name: str, default: str | None = None) -> str | None:
    """Read PATRONSYNC_<name> from the environment."""
    return os.environ.get(f"PATRONSYNC_{name}", default)


def env_bool(name: str, default: bool) -> bool:
    value = env(name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"PATRONSYNC_{name}: expected true or false, got {value!r}")


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in (env(name) or default).split(",") if item.strip()]


def env_int(name: str, default: int, *, minimum: int = 1) -> int:
    """PATRONSYNC_<name> as a whole number of at least `minimum`; a clear error otherwise."""
    value = (env(name) or "").strip()
    if not value:
        return default
    if not (value.isascii() and value.isdigit()) or int(value) < minimum:
        raise ImproperlyConfigured(
            f"PATRONSYNC_{name}: expected a whole number of at least {minimum}, got {value!r}"
        )
    return int(value)


def env_seconds(name: str, default: float) -> float:
    """PATRONSYNC_<name> as a number of seconds, 0 or more (e.g. 2 or 0.5); a clear error
    otherwise."""
    value = (env(name) or "").strip()
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0 or seconds == float("inf"):
        raise ImproperlyConfigured(
            f"PATRONSYNC_{name}: expected a number of seconds, 0 or more, got {value!r}"
        )
    return seconds


def private_dir_make(path: Path) -> Path:
    """Create `path` with mode 0700 (only its owner may enter it) if it does not exist.

    An existing folder keeps its mode: it is the operator's. The database file in it is made
    0600 by the SQLite backend (patronsync.core.sqlite) either way.
    """
    if not path.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir(mode=0o700, exist_ok=True)
        path.chmod(0o700)  # exactly: a umask such as 0277 would cut mkdir's mode further
    return path


# The database, the generated keys, the demo's feeds: created owner-only.
DATA_DIR = private_dir_make(Path(env("DATA_DIR") or BASE_DIR / "var").resolve())


def load_or_create_local_secret(path: Path, kind: str) -> str:
    """Return the secret kept in `path`, creating it (mode 0600) on first use.

    Used only by the dev and test settings, so that the quick start needs no configuration;
    production requires PATRONSYNC_SECRET_KEY and PATRONSYNC_ENCRYPTION_KEY.
    """
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "fernet":
        from cryptography.fernet import Fernet

        value = Fernet.generate_key().decode()
    else:
        import secrets

        value = secrets.token_urlsafe(50)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value


SECRET_KEY = env("SECRET_KEY") or ""
# Django's debug pages show the settings and the whole environment: DEBUG is on only under
# `patronsync serve --dev` (see config/settings/dev.py), never from a variable alone.
DEBUG = False
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # Before rest_framework: its templates override the browsable API's branding.
    "patronsync.web",
    "rest_framework",
    "drf_spectacular",
    "patronsync.core",
    "patronsync.accounts",
    "patronsync.patrons",
    "patronsync.connections",
    "patronsync.profiles",
    "patronsync.jobs",
    "patronsync.almaws",
    "patronsync.api",
    "patronsync.notifications",
    "axes",
    # Celery beat's schedule in the database (docs/workers.md); its tables exist everywhere.
    "django_celery_beat",
]

MIDDLEWARE = [
    # First: a body over the limit is answered 413 before anything reads it.
    "patronsync.core.middleware.RequestBodyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # The static files (the admin's CSS), from STATIC_ROOT, which `patronsync serve` fills.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # An htmx request sent to the login page takes the whole browser there (HX-Redirect).
    "patronsync.web.middleware.HtmxLoginRedirectMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes requires: turns a locked-out login into its 429 answer.
    "axes.middleware.AxesMiddleware",
]
# Messages live in the server-side session, not in a cookie: the admin shows a new webhook's
# secret once in a message, and a cookie is signed but readable by anyone holding it.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

# Request bodies: at most this many bytes (answered 413 past it; 2.5 MiB by default).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MAX_REQUEST_BODY", 2_621_440)
# The error format of an answer given before any view runs, by path prefix (else plain text).
ERROR_RESPONDERS = {
    "/almaws/": "patronsync.almaws.renderers.error_response",
    "/api/": "patronsync.core.middleware.json_error_response",
}

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


SQLITE_ENGINE = "patronsync.core.sqlite"


def database_config() -> dict:
    """SQLite in DATA_DIR (WAL mode) unless DATABASE_URL names another database."""
    url = os.environ.get("DATABASE_URL") or env("DATABASE_URL")
    if url:
        return dict(dj_database_url.parse(url, conn_max_age=60))
    return {
        # Django's SQLite backend, creating the database file 0600 (owner only).
        "ENGINE": SQLITE_ENGINE,
        "NAME": DATA_DIR / "patronsync.sqlite3",
        "OPTIONS": {
            # WAL lets the web server read while a job writes; IMMEDIATE avoids
            # "database is locked" upgrades in the middle of a write transaction.
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                "PRAGMA foreign_keys=ON; PRAGMA cache_size=-65536;"
            ),
        },
    }


DATABASES = {"default": database_config()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.StaffUser"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

# Staff logins are throttled by django-axes: after LOGIN_FAILURE_LIMIT wrong passwords for one
# account, or from one address, that account or address is refused (429) until
# LOGIN_LOCKOUT_MINUTES have passed without another try. `patronsync axes_reset` lifts them all.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each on its own: per account, per address
AXES_RESET_ON_SUCCESS = True
# The attempts name staff of every institution: they are not shown in the admin.
AXES_ENABLE_ADMIN = False

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", "UTC") or "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Made here, empty, so that whitenoise finds it before the first `collectstatic`.
STATIC_ROOT = private_dir_make(DATA_DIR / "static")
# whitenoise serves STATIC_ROOT (filled by `collectstatic`, which `patronsync serve` runs), and
# the apps' own static folders too: a command run before any collectstatic still has them.
WHITENOISE_USE_FINDERS = True

# `patronsync serve`: gunicorn's worker processes and threads per process, and how long a
# request may take before gunicorn restarts its worker (docs/deployment.md).
WEB_WORKERS = env_int("WEB_WORKERS", 2)
WEB_THREADS = env_int("WEB_THREADS", 4)
WEB_TIMEOUT = env_int("WEB_TIMEOUT", 120)

# Email to a profile's subscribers (patronsync.notifications): printed on the console unless
# PATRONSYNC_EMAIL_HOST names an SMTP server. See docs/notifications.md.
EMAIL_HOST = env("EMAIL_HOST") or "localhost"
EMAIL_BACKEND = env("EMAIL_BACKEND") or (
    "django.core.mail.backends.smtp.EmailBackend"
    if env("EMAIL_HOST")
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env("EMAIL_USER") or ""
EMAIL_HOST_PASSWORD = env("EMAIL_PASSWORD") or ""
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)  # STARTTLS, usually on port 587
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)  # TLS from the start, usually on port 465
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
DEFAULT_FROM_EMAIL = env("EMAIL_FROM") or "patronsync@localhost"
# Links in emails and webhooks point here: the address users reach the server at.
PATRONSYNC_BASE_URL = (env("BASE_URL") or "http://localhost:8000").rstrip("/")
# Webhooks: tries per delivery, the first wait between tries in seconds (doubled each time),
# and whether a plain http:// URL may be configured for a host other than this machine.
WEBHOOK_TRIES = env_int("WEBHOOK_TRIES", 3)
WEBHOOK_BACKOFF_SECONDS = env_int("WEBHOOK_BACKOFF_SECONDS", 2, minimum=0)
WEBHOOK_ALLOW_HTTP = env_bool("WEBHOOK_ALLOW_HTTP", False)
WEBHOOK_TIMEOUT = env_int("WEBHOOK_TIMEOUT", 10)
# Called with each job once its final status is committed (patronsync.jobs.hooks).
JOB_END_HOOKS = ["patronsync.notifications.services.notify_job_end"]

# Workers (docs/workers.md). The embedded worker, `patronsync worker`, runs the waiting jobs
# every WORKER_INTERVAL seconds. With BROKER_URL (redis://... or amqp://...) jobs are sent to
# Celery workers instead; beat fires the schedules. A message carries only a job id; the Job row
# decides (one claim), so a message that comes twice runs nothing twice.
PATRONSYNC_WORKER_INTERVAL = env_int("WORKER_INTERVAL", 15)
PATRONSYNC_BROKER_URL = (env("BROKER_URL") or "").strip()
if PATRONSYNC_BROKER_URL and not PATRONSYNC_BROKER_URL.startswith(
    ("redis://", "rediss://", "amqp://", "amqps://", "pyamqp://")
):
    # Only the scheme: the rest of the URL may hold a password.
    raise ImproperlyConfigured(
        "PATRONSYNC_BROKER_URL: expected a redis:// or amqp:// URL, got one starting "
        f"{PATRONSYNC_BROKER_URL.split(':', 1)[0]!r}"
    )
CELERY_BROKER_URL = PATRONSYNC_BROKER_URL or None
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# The queue of patronsync's tasks: set it apart when several installations share a broker.
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_QUEUE") or "patronsync"
CELERY_TASK_ACKS_LATE = True  # a message is done when its job is, not when it is received
CELERY_TASK_REJECT_ON_WORKER_LOST = True  # a killed worker's message goes back to the broker
CELERY_WORKER_PREFETCH_MULTIPLIER = 1  # a worker process holds one job's message at a time
CELERY_TASK_IGNORE_RESULT = True  # the Job row is the result
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "patronsync.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "patronsync API",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Both sections of a profile take the same schedule menu: one enum in the schema.
    "ENUM_NAME_OVERRIDES": {
        "ScheduleEnum": "patronsync.profiles.choices.Schedule",
        "ActorKindEnum": "patronsync.patrons.choices.ActorKind",
        # A job's kind (purge too), and the kinds a profile's sections run (import, synchronize).
        "JobKindEnum": "patronsync.loader.choices.JobKind",
        "SectionKindEnum": "patronsync.loader.choices.SECTION_KIND_CHOICES",
    },
}

# Secrets at rest (S/FTP passwords, keys) are encrypted with this Fernet key.
# See docs/configuration.md.
ENCRYPTION_KEY = env("ENCRYPTION_KEY") or ""

# The folders `local` connections may use, per institution: `CODE=FOLDER,...`, `*=FOLDER` for
# every institution, `{code}` for each one's code. Empty: DATA_DIR/sis for the default
# institution and DATA_DIR/sis/{code} for each. See docs/configuration.md.
PATRONSYNC_LOCAL_ROOTS = env("LOCAL_ROOTS") or ""

# How late a scheduled slot may still fire, e.g. after the machine was off: only the latest
# missed slot fires, once, and not when it is older than this. See docs/scheduling.md.
PATRONSYNC_SCHEDULE_GRACE_MINUTES = env_int("SCHEDULE_GRACE_MINUTES", 60)

# The engine: users per batch (one transaction and one checkpoint each), and whether files are
# read in a second process. Read here so that a bad value stops every command in one line.
PATRONSYNC_BATCH_SIZE = env_int("BATCH_SIZE", 2000)
PATRONSYNC_READ_AHEAD = env_bool("READ_AHEAD", True)
# A guarded Synchronize applies its plan's records alone when no stored user changed since the
# plan was made (`jobs.planned`); off: the apply pass reads and decides the whole feed again.
PATRONSYNC_APPLY_FROM_PLAN = env_bool("APPLY_FROM_PLAN", True)

# The audit trail (users' history): days a change is kept; 0, the default, keeps it forever.
# `patronsync history prune` (and the embedded worker, daily) removes older changes.
PATRONSYNC_HISTORY_RETENTION_DAYS = env_int("HISTORY_RETENTION_DAYS", 0, minimum=0)

# Institutions still in implementation (comma-separated codes, `*` for all, empty for none):
# their S/FTP definitions reach only the servers of their Allowed S/FTP Connections. Unset:
# `*`, a new installation is in implementation, as Alma before Go Live.
PATRONSYNC_IN_IMPLEMENTATION = env("IN_IMPLEMENTATION", "*") or ""

# S/FTP transports (docs/transports.md): attempts of each operation on a transient fault (the
# first included), the first wait between attempts (doubled each time), and the timeout to
# connect and of each read or write.
PATRONSYNC_TRANSPORT_RETRIES = env_int("TRANSPORT_RETRIES", 3)
PATRONSYNC_TRANSPORT_BACKOFF_SECONDS = env_seconds("TRANSPORT_BACKOFF_SECONDS", 2.0)
PATRONSYNC_TRANSPORT_TIMEOUT = env_int("TRANSPORT_TIMEOUT", 30)

# Every handler redacts secret query parameters (`?apikey=...`, however spelled) from messages.
# Django's own loggers are set here too, so that none keeps a handler without the filter:
# `django.server` is the access log of `patronsync serve`.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "patronsync.core.redact.RedactUrlSecrets"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]},
        "server": {"class": "logging.StreamHandler", "formatter": "server", "filters": ["redact"]},
    },
    "loggers": {
        "django": {"handlers": [], "level": "INFO"},
        "django.server": {"handlers": ["server"], "level": "INFO", "propagate": False},
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "WARNING") or "WARNING"},
}
