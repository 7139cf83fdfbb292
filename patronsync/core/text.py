"""Bounded text: what patronsync stores or prints of a value it was given stays a readable size.

A feed decides what its values hold, and a reason, a warning or a log line that quotes a value
quotes it whole: a 900 KB attribute would be copied into every rejection reason and every line
that names it. `bounded` cuts such a text and says so in the text itself, so that a reader of the
report knows that something was left out and how much.

Pure Python: `almaxml` (which runs without Django) uses it too.
"""

from __future__ import annotations

# The most of a reason (a rejected user's, a file problem's) or a warning that is kept.
REASON_CHARS = 1_000
# The most of one line of a job's log that is kept; a traceback of the engine fits in it.
LOG_LINE_CHARS = 16_000


def _mark(left_out: int) -> str:
    return f"… [cut: {left_out:,} more characters]"


def bounded(text: str, limit: int) -> str:
    """`text` when it has at most `limit` characters; else its start and a marked cut.

    The result is never longer than `limit`, the mark included: e.g. ``"abc… [cut: 912,345
    more characters]"``. A limit too small for the mark keeps just the first `limit` characters.
    """
    if len(text) <= limit:
        return text
    # The mark is longest for the largest count; a smaller count only makes it shorter.
    keep = limit - len(_mark(len(text)))
    if keep <= 0:
        return text[:limit]
    return text[:keep] + _mark(len(text) - keep)
