"""API keys and other secrets in logged URLs are redacted, however the client spelled them."""

from __future__ import annotations

import logging

import pytest

from patronsync.core.redact import RedactUrlSecrets, redact_url_secrets

KEY = "ps_live_0123456789abcdef"


@pytest.mark.parametrize(
    "name",
    [
        "apikey",
        "APIKEY",
        "ApiKey",
        "api%6Bey",
        "api%6bey",
        "%61%70%69%6b%65%79",
        "api%256Bey",
        "api_key",
        "token",
        "password",
    ],
)
def test_secret_parameter_is_redacted_however_it_is_spelled(name):
    line = f"GET /almaws/v1/users?q=x&{name}={KEY}&limit=5 HTTP/1.1"

    redacted = redact_url_secrets(line)

    assert KEY not in redacted
    assert redacted == f"GET /almaws/v1/users?q=x&{name}=[redacted]&limit=5 HTTP/1.1"


def test_other_parameters_are_kept():
    line = "GET /almaws/v1/users?q=primary_id~jdoe&offset=10&format=json HTTP/1.1"

    assert redact_url_secrets(line) == line


def test_key_as_first_parameter_and_in_a_quoted_url_is_redacted():
    assert redact_url_secrets(f'"GET /x?apikey={KEY} HTTP/1.1" 200') == (
        '"GET /x?apikey=[redacted] HTTP/1.1" 200'
    )
    assert redact_url_secrets(f"see 'http://h/x?api%6Bey={KEY}'") == (
        "see 'http://h/x?api%6Bey=[redacted]'"
    )


def test_filter_redacts_the_formatted_message_of_a_record():
    record = logging.LogRecord(
        "django.server",
        logging.INFO,
        __file__,
        1,
        '"%s" %s %s',
        (f"GET /almaws/v1/users?api%6Bey={KEY} HTTP/1.1", "200", "30"),
        None,
    )

    assert RedactUrlSecrets().filter(record) is True
    assert record.getMessage() == '"GET /almaws/v1/users?api%6Bey=[redacted] HTTP/1.1" 200 30'


@pytest.mark.parametrize("logger_name", ["django.server", "django.request", "patronsync.jobs"])
def test_every_configured_handler_redacts(logger_name):
    logger = logging.getLogger(logger_name)
    handlers = []
    while logger:
        # pytest's capture handlers aside: every handler the settings configure.
        handlers += [h for h in logger.handlers if not type(h).__module__.startswith("_pytest")]
        logger = logger.parent if logger.propagate else None
    assert handlers
    for handler in handlers:
        assert any(isinstance(f, RedactUrlSecrets) for f in handler.filters), handler
