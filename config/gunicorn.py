"""gunicorn's settings under `patronsync serve`: its logs go through patronsync's redaction.

`patronsync serve` passes the bind address, workers, threads and timeout on the command line;
this module adds what a command line cannot: the access log's handler runs `RedactUrlSecrets`,
so `?apikey=...` (however spelled) is logged as `[redacted]`, as under the development server.
"""

wsgi_app = "config.wsgi:application"
accesslog = "-"
errorlog = "-"
# Behind a reverse proxy on the same machine (docs/deployment.md) gunicorn trusts its
# X-Forwarded-* headers; Django's SECURE_PROXY_SSL_HEADER decides what they mean.
forwarded_allow_ips = "127.0.0.1,::1"
# gunicorn's control socket is one path per user (~/.gunicorn): two servers on one machine
# would share it. patronsync is stopped and reloaded with signals (docs/deployment.md).
control_socket_disable = True

logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "patronsync.core.redact.RedactUrlSecrets"}},
    "formatters": {
        "generic": {"format": "%(asctime)s [%(process)d] [%(levelname)s] %(message)s"},
        "access": {"format": "%(message)s"},
    },
    "handlers": {
        "error_console": {
            "class": "logging.StreamHandler",
            "formatter": "generic",
            "filters": ["redact"],
            "stream": "ext://sys.stderr",
        },
        "access_console": {
            "class": "logging.StreamHandler",
            "formatter": "access",
            "filters": ["redact"],
            "stream": "ext://sys.stdout",
        },
    },
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["error_console"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["access_console"], "propagate": False},
    },
    "root": {"level": "INFO", "handlers": ["error_console"]},
}
