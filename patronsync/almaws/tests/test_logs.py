"""API keys never reach the logs."""

from __future__ import annotations

import logging

from patronsync.almaws.logs import RedactApiKeys


def test_access_log_line_hides_the_apikey_parameter():
    record = logging.LogRecord(
        "django.server",
        logging.INFO,
        __file__,
        1,
        '"%s" %s %s',
        ("GET /almaws/v1/users?q=x&apikey=ps_secret_123&limit=5 HTTP/1.1", "200", "30"),
        None,
    )

    RedactApiKeys().filter(record)

    assert "ps_secret_123" not in record.getMessage()
    assert "apikey=[redacted]&limit=5" in record.getMessage()


def test_server_logger_has_the_filter():
    filters = logging.getLogger("django.server").filters

    assert any(isinstance(f, RedactApiKeys) for f in filters)
