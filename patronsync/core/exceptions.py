"""Errors shared by every app.

The taxonomy follows what a job needs to decide: a `RuleViolation` concerns one record (record it,
carry on), a `ConfigurationError` stops a job before it starts, anything else is unexpected.
"""

from __future__ import annotations

from typing import Any


class PatronsyncError(Exception):
    """Base class of patronsync's own errors."""


class RuleViolation(PatronsyncError):
    """A write broke one of the user store's rules; nothing was written.

    `code` is patronsync's reject code (UPPER_SNAKE, listed in docs/reject-codes.md) and
    `alma_code` the matching Alma API error code where Alma has one.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str,
        field: str | None = None,
        value: Any = None,
        alma_code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field
        self.value = value
        self.alma_code = alma_code

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "field": self.field,
            "value": self.value,
            "message": self.message,
            "alma_code": self.alma_code,
        }


class ConfigurationError(PatronsyncError):
    """Configuration that cannot work (unknown profile, bad connection settings, ...)."""


class PermissionDenied(PatronsyncError):
    """The staff account's role does not allow this action in this institution."""
