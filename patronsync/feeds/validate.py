"""Check feed files before delivery: per-file user counts and every problem found."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from patronsync.almaxml.errors import Problem
from patronsync.almaxml.reader import PartSummary, iter_users


@dataclass(slots=True)
class FileReport:
    """What one feed file holds: its documents with user counts, and its problems."""

    path: str
    parts: list[PartSummary] = field(default_factory=list)
    users: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> int:
        """How many problems are errors."""
        return sum(1 for p in self.problems if p.is_error)


@dataclass(slots=True)
class ValidationResult:
    """The reports of all files; `ok` when none has an error."""

    files: list[FileReport] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no file has an error problem."""
        return all(f.errors == 0 for f in self.files)


def feed_validate(paths: Iterable[str | os.PathLike[str]], *, strict: bool) -> ValidationResult:
    """Read every user of every file (XML or zip), collecting file- and user-level problems.

    Strict mode validates each user against rest_user.xsd; lenient mode reports what the
    importer itself would reject or warn about.
    """
    result = ValidationResult()
    for path in paths:
        report = FileReport(os.fspath(path))
        reader = iter_users(path, strict=strict)
        for parsed in reader:
            report.users += 1
            report.problems.extend(parsed.problems)
        report.problems.extend(reader.problems)
        report.parts = reader.parts
        report.problems.sort(key=lambda p: (p.entry or "", p.line or 0))
        result.files.append(report)
    return result
