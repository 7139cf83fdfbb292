"""Problems found in a feed, and the exception for a file that cannot be read at all."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from patronsync.core.text import REASON_CHARS, bounded

Severity = Literal["error", "warning"]
_ID_CHARS = 255  # the most of a primary ID a problem's text quotes (Alma's own limit)


@dataclass(slots=True)
class Problem:
    """One thing wrong with a feed, located as precisely as it is known.

    `code` is a stable UPPER_SNAKE identifier (e.g. ``VALUE_NOT_A_DATE``) for reports and
    filtering; `message` is the plain-words explanation, cut to REASON_CHARS (with the cut
    marked) when it quotes a long value of the feed. A problem with `primary_id` set names a
    user: the user it is about, or the user being read when a file could not be read further.
    """

    severity: Severity
    code: str
    message: str
    file: str | None = None
    entry: str | None = None
    line: int | None = None
    primary_id: str | None = None
    field: str | None = None

    def __post_init__(self) -> None:
        self.message = bounded(self.message, REASON_CHARS)

    @property
    def is_error(self) -> bool:
        """True for an error, False for a warning."""
        return self.severity == "error"

    def location(self) -> str:
        """``file:entry:line`` with the parts that are known."""
        parts = [p for p in (self.file, self.entry) if p]
        if self.line is not None:
            parts.append(str(self.line))
        return ":".join(parts)

    def __str__(self) -> str:
        head = self.location()
        who = f"user {bounded(self.primary_id, _ID_CHARS)}: " if self.primary_id else ""
        prefix = f"{head}: " if head else ""
        tag = "" if self.severity == "error" else "warning: "
        return f"{prefix}{tag}{who}{self.message}"


class FeedError(Exception):
    """A file (or zip entry) that cannot be read; carries the Problem that says why."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem
