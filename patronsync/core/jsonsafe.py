"""JSON from clients, read with a bound on nesting: a deep document is refused before parsing.

Python's parser recurses once per level, so a body of 100,000 `[` raises RecursionError (an
answer 500) instead of a clear refusal, and code that walks the result recurses again. Both APIs
read request bodies with `json_loads_bounded`, which counts the levels first.
"""

from __future__ import annotations

import json
import re
from typing import Any

# The deepest Alma user (user > contact_info > address > address_type > value) and the
# deepest profile document of the API are under ten levels; 64 leaves room for any client.
MAX_JSON_DEPTH = 64

# A JSON string, escapes included: brackets inside strings do not nest.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")


class JsonTooDeep(ValueError):
    """A JSON document nested deeper than allowed; the message says how deep is allowed."""

    def __init__(self, max_depth: int) -> None:
        super().__init__(f"the JSON is nested more than {max_depth} levels deep")
        self.max_depth = max_depth


def json_depth_check(body: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Raise JsonTooDeep when arrays and objects in `body` nest more than `max_depth` levels.

    Only counts brackets outside strings; it does not validate. A malformed body passes or
    fails here and is then refused by the parser with its own message.
    """
    if isinstance(body, bytes):
        # The encoding json.loads itself detects (UTF-8, -16 or -32).
        body = body.decode(json.detect_encoding(body), "surrogatepass")
    depth = 0
    for char in _NOT_BRACKETS.sub("", _STRING.sub("", body)):
        if char in "[{":
            depth += 1
            if depth > max_depth:
                raise JsonTooDeep(max_depth)
        elif depth:
            depth -= 1


def json_loads_bounded(body: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """`json.loads(body)`, refusing (JsonTooDeep, a ValueError) documents nested too deep."""
    json_depth_check(body, max_depth=max_depth)
    return json.loads(body)
