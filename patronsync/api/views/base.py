"""What every viewset of the API shares: the caller, permissions, pagination, errors."""

from __future__ import annotations

import io
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model, QuerySet
from rest_framework import exceptions, status, viewsets
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import exception_handler

from patronsync.accounts.choices import Action
from patronsync.core.jsonsafe import json_depth_check
from patronsync.core.models import Institution

from ..access import ApiCaller, caller_of
from ..permissions import HasInstitutionRole
from ..schema import ApiAutoSchema

MAX_PAGE = 1_000_000


class ApiPagination(PageNumberPagination):
    """`?page=N&page_size=M` (default 50, at most 1,000).

    N is a whole number from 1 to MAX_PAGE (or `last`), else 400 naming `page`; a page past
    the end of the list is 404. The bound keeps offsets far inside the database's integers.
    """

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 1000

    def get_page_number(self, request: Any, paginator: Any) -> Any:
        raw = request.query_params.get(self.page_query_param) or "1"
        if raw in self.last_page_strings:
            return paginator.num_pages
        digits = raw.isascii() and raw.isdigit() and len(raw) <= len(str(MAX_PAGE))
        if not digits or not 1 <= int(raw) <= MAX_PAGE:
            raise exceptions.ValidationError(
                {"page": [f"A page number is a whole number from 1 to {MAX_PAGE:,}."]}
            )
        return int(raw)


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser, refusing with 400 a body nested deeper than MAX_JSON_DEPTH levels
    (Python's parser would recurse into a RecursionError, an answer 500)."""

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        body = stream.read()
        try:
            json_depth_check(body)
        except ValueError as exc:  # too deep, or not text in any of JSON's encodings
            raise exceptions.ParseError(f"JSON parse error - {exc}") from exc
        return super().parse(io.BytesIO(body), media_type, parser_context)


class Conflict(exceptions.APIException):
    """409: the call conflicts with the object's state (a job running, a connection in use)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


class ApiViewSet(viewsets.GenericViewSet):
    """A viewset whose querysets and writes are limited to the caller's institutions."""

    permission_classes = [HasInstitutionRole]
    parser_classes = [BoundedJSONParser, FormParser, MultiPartParser]
    pagination_class = ApiPagination
    schema = ApiAutoSchema()
    write_actions: tuple[str, ...] = ()

    @property
    def caller(self) -> ApiCaller:
        caller = caller_of(self.request)
        if caller is None:  # the permission class lets no anonymous call through
            raise exceptions.NotAuthenticated()
        return caller

    def visible_institutions(self) -> QuerySet[Institution]:
        return self.caller.institutions(Action.VIEW)

    def visible_rows(self, model: type[Model]) -> QuerySet[Any]:
        """The rows of a per-institution `model` the caller may see, narrowed to one
        institution by `?institution=CODE`."""
        rows = model._default_manager.filter(
            institution__in=self.visible_institutions()
        ).select_related("institution")
        code = self.request.query_params.get("institution")
        return rows.filter(institution__code=code) if code else rows

    def institution_for_create(self, code: str | None) -> Institution:
        """The institution a new object goes to: the one named, else the caller's only one."""
        allowed = self.caller.institutions(Action.CONFIGURE)
        if code:
            institution = allowed.filter(code=code).first()
            if institution is None:
                raise exceptions.ValidationError(
                    {"institution": f"You may not configure institution {code!r}."}
                )
            return institution
        choices = list(allowed[:2])
        if len(choices) != 1:
            raise exceptions.ValidationError(
                {"institution": "Name the institution: you may configure several."}
            )
        return choices[0]

    def filters(self, serializer_class: Any) -> dict[str, Any]:
        """The query parameters validated by `serializer_class` (400 when invalid)."""
        serializer = serializer_class(data=self.request.query_params)
        serializer.is_valid(raise_exception=True)
        return {key: value for key, value in serializer.validated_data.items() if value != ""}

    def one(self, queryset: QuerySet[Any], **lookup: Any) -> Any:
        """The object of `queryset` matching `lookup`, checked against the caller's role.

        `?institution=CODE` picks among institutions when the lookup (a profile code) is not
        unique across the caller's institutions.
        """
        institution = self.request.query_params.get("institution")
        if institution:
            queryset = queryset.filter(institution__code=institution)
        found = list(queryset.filter(**lookup)[:2])
        if not found:
            raise exceptions.NotFound()
        if len(found) > 1:
            raise exceptions.ValidationError(
                {"institution": "Several institutions have this code; add ?institution=CODE."}
            )
        obj: Model = found[0]
        self.check_object_permissions(self.request, obj)
        return obj

    def get_exception_handler(self) -> Any:
        return api_exception_handler

    def paginated(self, queryset: QuerySet[Any], serializer_class: Any) -> Response:
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(serializer_class(page, many=True).data)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus a model's ValidationError (raised by a service) as 400."""
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = exceptions.ValidationError(detail)
    return exception_handler(exc, context)
