"""Thin views of the Alma-compatible API: authorize the key, call one service, render."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from . import services
from .errors import AlmaError
from .renderers import (
    parse_user,
    render_code_table,
    render_error,
    render_user,
    render_users,
    response_format,
)
from .thresholds import REMAINING_HEADER

logger = logging.getLogger(__name__)
WRITE_METHODS = {"POST", "PUT", "DELETE"}
MAX_INT_PARAM = 2**31 - 1  # the largest 32-bit integer: far past any user store's size


def api_key_of(request: HttpRequest) -> str:
    """The key from `Authorization: apikey KEY`, else from the `apikey` query parameter."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "apikey" and value.strip():
        return value.strip()
    return request.GET.get("apikey", "")


def _int_param(request: HttpRequest, name: str, default: int) -> int:
    """The whole-number parameter `name`; 402119 when it is not one or past MAX_INT_PARAM
    (an offset of 10**20 overflows the database's integers)."""
    raw = request.GET.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise AlmaError("402119", f"General error: {name} must be a number.") from None
    if value > MAX_INT_PARAM:
        raise AlmaError(
            "402119", f"General error: {name} must not be greater than {MAX_INT_PARAM}."
        )
    return value


def users_base_url(request: HttpRequest) -> str:
    """The absolute URL of /almaws/v1/users/, the prefix of every user's `link`."""
    return request.build_absolute_uri("/almaws/v1/users/")


@method_decorator(csrf_exempt, name="dispatch")
class AlmaApiView(View):
    """Base view: authorizes the key, renders AlmaError and unexpected errors as Alma does."""

    http_method_names = ["get", "post", "put", "delete"]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        fmt = response_format(request)
        method = request.method or "GET"
        handler: Callable[..., HttpResponse] | None = getattr(self, method.lower(), None)
        remaining: int | None = None
        try:
            if handler is None or method.lower() not in self.http_method_names:
                raise AlmaError.not_found_path()
            caller = services.api_call_authorize(
                key=api_key_of(request), write=method in WRITE_METHODS
            )
            remaining = caller.remaining
            response = handler(request, caller, fmt, *args, **kwargs)
        except AlmaError as error:
            response = render_error(error, fmt=fmt)
        except Exception:
            failure = AlmaError("INTERNAL_SERVER_ERROR", "Internal server error.", status=500)
            logger.exception(
                "almaws: %s %s failed (tracking ID %s)", method, request.path, failure.tracking_id
            )
            response = render_error(failure, fmt=fmt)
        if remaining is not None and REMAINING_HEADER not in response:
            response[REMAINING_HEADER] = str(remaining)
        return response


class UserListView(AlmaApiView):
    """GET /almaws/v1/users (search) and POST /almaws/v1/users (create)."""

    def get(self, request: HttpRequest, caller: services.Caller, fmt: str) -> HttpResponse:
        users, total = services.user_list(
            institution=caller.institution,
            q=request.GET.get("q", ""),
            modify_date_from=request.GET.get("modify_date_from", ""),
            order_by=request.GET.get("order_by", ""),
            limit=_int_param(request, "limit", 10),
            offset=_int_param(request, "offset", 0),
            expand=request.GET.get("expand", ""),
            base_url=users_base_url(request),
        )
        return render_users(users, total=total, fmt=fmt)

    def post(self, request: HttpRequest, caller: services.Caller, fmt: str) -> HttpResponse:
        user = services.user_create(
            caller=caller, data=parse_user(request), base_url=users_base_url(request)
        )
        return render_user(user, fmt=fmt)


class UserDetailView(AlmaApiView):
    """GET, PUT and DELETE /almaws/v1/users/{user_id}."""

    def get(
        self, request: HttpRequest, caller: services.Caller, fmt: str, user_id: str
    ) -> HttpResponse:
        user = services.user_get(
            institution=caller.institution,
            user_id=user_id,
            user_id_type=request.GET.get("user_id_type", ""),
            view=request.GET.get("view", "full"),
            expand=request.GET.get("expand", ""),
            base_url=users_base_url(request),
        )
        return render_user(user, fmt=fmt)

    def put(
        self, request: HttpRequest, caller: services.Caller, fmt: str, user_id: str
    ) -> HttpResponse:
        user = services.user_update(
            caller=caller,
            user_id=user_id,
            user_id_type=request.GET.get("user_id_type", ""),
            data=parse_user(request),
            override=request.GET.get("override", ""),
            base_url=users_base_url(request),
        )
        return render_user(user, fmt=fmt)

    def delete(
        self, request: HttpRequest, caller: services.Caller, fmt: str, user_id: str
    ) -> HttpResponse:
        services.user_delete(
            caller=caller, user_id=user_id, user_id_type=request.GET.get("user_id_type", "")
        )
        return HttpResponse(status=204)


class CodeTableView(AlmaApiView):
    """GET /almaws/v1/conf/code-tables/{name}."""

    http_method_names = ["get"]

    def get(
        self, request: HttpRequest, caller: services.Caller, fmt: str, name: str
    ) -> HttpResponse:
        table = services.code_table_get(institution=caller.institution, name=name)
        return render_code_table(table, fmt=fmt)


@csrf_exempt
def not_found(request: HttpRequest, path: str = "") -> HttpResponse:
    """Any other path under /almaws/v1/: the gateway's NOT_FOUND answer."""
    return render_error(AlmaError.not_found_path(), fmt=response_format(request))
