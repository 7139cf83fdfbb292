"""htmx requests whose session has expired: the browser goes to the login page instead of
htmx swapping the login page into a fragment (a job's progress box, the jobs watch)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme


class HtmxLoginRedirectMiddleware:
    """Answers an htmx request (`HX-Request`) redirected to the login page with an empty body
    and `HX-Redirect: <login URL>?next=<the page's URL>`, so that htmx sends the whole browser
    there and the login comes back to the page the poll was on (`HX-Current-URL`), not to the
    fragment's URL.

    A browser follows a fetch's redirect on its own, so htmx would only see the login page as
    the fragment's content: the redirect is turned into htmx's header on the server."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.headers.get("HX-Request") or response.status_code not in (301, 302, 303):
            return response
        login = resolve_url(settings.LOGIN_URL)
        if urlsplit(response.get("Location", "")).path != login:
            return response
        page = self._page(request)
        target = redirect_to_login(page, login)["Location"] if page else response["Location"]
        answer = HttpResponse(b"")
        answer["HX-Redirect"] = target
        return answer

    @staticmethod
    def _page(request: HttpRequest) -> str:
        """The path (and query) of the page the htmx request came from, when it is this site's."""
        current = request.headers.get("HX-Current-URL", "")
        if not current or not url_has_allowed_host_and_scheme(
            current, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return ""
        parts = urlsplit(current)
        return parts.path + (f"?{parts.query}" if parts.query else "")
