"""A logging filter that hides API keys sent as the `apikey` query parameter."""

from __future__ import annotations

import logging
import re

APIKEY_PARAM = re.compile(r"(?i)(apikey=)[^&\s\"]+")


class RedactApiKeys(logging.Filter):
    """Replace the value of `apikey=` in a log message (e.g. the server's access log)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "apikey=" in message.lower():
            record.msg = APIKEY_PARAM.sub(r"\1[redacted]", message)
            record.args = ()
        return True
