"""The API's errors as Alma reports them: an HTTP status, an error code and Alma's message."""

from __future__ import annotations

import secrets
import time

from patronsync.core.exceptions import RuleViolation

UNAUTHORIZED_MESSAGE = "API-key not defined or not configured to allow this API."


def tracking_id() -> str:
    """A tracking ID in Alma's style (E01-ddHHMMSS-RANDOM), to find a call in the server log."""
    return f"E01-{time.strftime('%d%H%M%S', time.gmtime())}-{secrets.token_hex(6).upper()}"


class AlmaError(Exception):
    """An error answered with a `web_service_result` body; HTTP 400 unless said otherwise."""

    def __init__(
        self, code: str, message: str, *, status: int = 400, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.headers = headers or {}
        self.tracking_id = tracking_id()

    @classmethod
    def from_rule(cls, violation: RuleViolation, *, default_code: str) -> AlmaError:
        """A store rule broken: Alma's code when the rule has one, else `default_code`."""
        return cls(violation.alma_code or default_code, violation.message)

    @classmethod
    def unauthorized(cls) -> AlmaError:
        return cls("UNAUTHORIZED", UNAUTHORIZED_MESSAGE, status=401)

    @classmethod
    def not_found_path(cls) -> AlmaError:
        return cls("NOT_FOUND", "No such API (check the URL and the HTTP method).", status=404)

    @classmethod
    def user_not_found(cls, *, user_id: str, user_id_type: str) -> AlmaError:
        """401861 when searched among all unique identifiers, 401890 for one identifier type."""
        if user_id_type == "all_unique":
            return cls("401861", f"User with identifier {user_id} was not found.")
        return cls(
            "401890", f"User with identifier {user_id} of type {user_id_type} was not found."
        )

    @classmethod
    def no_valid_body(cls, *, fmt: str, detail: str = "") -> AlmaError:
        what = "JSON" if fmt == "json" else "XML"
        suffix = f" ({detail})" if detail else ""
        return cls("401676", f"No valid {what} was given.{suffix}")
