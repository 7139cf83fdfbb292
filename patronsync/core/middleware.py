"""The server's own middleware: request bodies over the size limit are answered 413 at once.

Django refuses a body over DATA_UPLOAD_MAX_MEMORY_SIZE only when something reads it, with a 400
(or, with DEBUG on, the technical page and the whole environment), and Django REST framework's
JSON parser reads the raw stream and never checks it. This middleware, the first of the stack,
answers 413 from the Content-Length alone, before any other middleware or view reads a byte.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

TOO_LARGE_CODE = "REQUEST_TOO_LARGE"
Responder = Callable[..., HttpResponse]


def json_error_response(
    request: HttpRequest, *, status: int, code: str, message: str
) -> HttpResponse:
    """An error in the JSON form of patronsync's own API: `{"detail": ...}`."""
    return JsonResponse({"detail": message}, status=status)


def text_error_response(
    request: HttpRequest, *, status: int, code: str, message: str
) -> HttpResponse:
    """An error as one line of plain text (the pages and the admin)."""
    return HttpResponse(message + "\n", status=status, content_type="text/plain; charset=utf-8")


class RequestBodyLimitMiddleware:
    """Answer 413 to a request whose Content-Length is over DATA_UPLOAD_MAX_MEMORY_SIZE.

    The answer takes the error format of the API the path belongs to: ERROR_RESPONDERS maps a
    path prefix to a function `(request, *, status, code, message) -> HttpResponse` (the Alma
    API's error body under /almaws/, JSON under /api/); other paths get plain text. A body
    without Content-Length is not read by Django at all, so it needs no check here.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.responders: list[tuple[str, Responder]] = [
            (prefix, import_string(path))
            for prefix, path in getattr(settings, "ERROR_RESPONDERS", {}).items()
        ]

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit: int | None = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None:
            size = content_length(request)
            if size > limit:
                logger.warning(
                    "Refused a body of %s bytes (the limit is %s): %s %s",
                    size,
                    limit,
                    request.method,
                    request.path,
                )
                return self.responder(request)(
                    request,
                    status=413,
                    code=TOO_LARGE_CODE,
                    message=(
                        f"The request body is {size:,} bytes; this server takes at most {limit:,}."
                    ),
                )
        return self.get_response(request)

    def responder(self, request: HttpRequest) -> Responder:
        for prefix, responder in self.responders:
            if request.path_info.startswith(prefix):
                return responder
        return text_error_response


def content_length(request: HttpRequest) -> int:
    """The request's Content-Length, 0 when absent or not a number (Django then reads none)."""
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0
