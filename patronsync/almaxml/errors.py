"""Problems found in a feed, and the exception for a file that cannot be read at all."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(slots=True)
class Problem:
    """One thing wrong with a feed, located as precisely as it is known.

    `code` is a stable UPPER_SNAKE identifier (e.g. ``VALUE_NOT_A_DATE``) for reports and
    filtering; `message` is the plain-words explanation. A problem with `line` and `primary_id`
    set points at one user; one without them concerns a whole file or zip entry.
    """

    severity: Severity
    code: str
    message: str
    file: str | None = None
    entry: str | None = None
    line: int | None = None
    primary_id: str | None = None
    field: str | None = None

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
        who = f"user {self.primary_id}: " if self.primary_id else ""
        prefix = f"{head}: " if head else ""
        tag = "" if self.severity == "error" else "warning: "
        return f"{prefix}{tag}{who}{self.message}"


class FeedError(Exception):
    """A file (or zip entry) that cannot be read; carries the Problem that says why."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem
