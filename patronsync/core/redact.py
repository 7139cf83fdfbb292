"""Secrets out of logged URLs: a key in a query string is logged as `[redacted]`.

Alma clients may send the API key as `?apikey=KEY`. The server's access log, Django's request
log and any message that quotes a URL would write it in clear. Every log handler of patronsync
runs `RedactUrlSecrets`, which finds query parameters whose name, percent-decoded and in any
case (`apikey`, `APIKEY`, `api%6Bey`, `api%256Bey`), is a secret's, and hides their values.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

# Parameter names whose values are never logged, compared lower-cased and percent-decoded.
SECRET_PARAMETERS = frozenset(
    {"apikey", "api_key", "api-key", "key", "token", "access_token", "password", "secret"}
)
REDACTED = "[redacted]"
# A query parameter inside a log line: its name and value stop at the next separator, at white
# space (the end of a request line) or at a quote (a quoted URL).
_PARAMETER = re.compile(r"(?P<lead>[?&;](?P<name>[^=&;#\s\"'<>]+)=)(?P<value>[^&;#\s\"'<>]*)")
_DECODINGS = 4  # `%2525...` decodes one level at a time; a name nested deeper is redacted too


def is_secret_parameter(name: str) -> bool:
    """Whether `name`, percent-decoded at any level and in any case, names a secret."""
    for _ in range(_DECODINGS):
        if name.strip().lower() in SECRET_PARAMETERS:
            return True
        decoded = unquote_plus(name)
        if decoded == name:
            return False
        name = decoded
    return True  # still encoded after several decodings: nobody names a parameter like that


def redact_url_secrets(text: str) -> str:
    """`text` with the value of every secret query parameter replaced by `[redacted]`."""
    if "=" not in text:
        return text
    return _PARAMETER.sub(
        lambda found: found["lead"] + REDACTED if is_secret_parameter(found["name"]) else found[0],
        text,
    )


class RedactUrlSecrets(logging.Filter):
    """A logging filter that redacts secret query parameters in each record's message.

    The message is formatted here (`record.getMessage()`), redacted and stored without its
    arguments, so every formatter after it sees the redacted text only.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # arguments that do not fit: leave it to the formatter
            return True
        redacted = redact_url_secrets(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True
