"""The users' history (audit trail): every change, who made it and from where."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response

from patronsync.patrons.audit import (
    HistoryFilterError,
    history_filter,
    history_time_bound,
    institution_zone,
)
from patronsync.patrons.models import PatronChange

from ..serializers import HistoryEntrySerializer, HistoryFilterSerializer
from .base import ApiViewSet


@extend_schema_view(
    list=extend_schema(
        summary="The users' history, newest first",
        description="Every change to a user of the caller's institutions: each field before "
        "and after (`changes`), who made it (`actor`: a job, a staff account, an API key) and, "
        "for a job, the record's file, zip entry and line (`source`). Filter by user (`user`, "
        "a primary ID), time (`since`, `until`), job (`job`) and institution. Reads need "
        "`users:read`.",
        parameters=[HistoryFilterSerializer],
    ),
)
class HistoryViewSet(ApiViewSet):
    """The history of the users of the caller's institutions (read only)."""

    serializer_class = HistoryEntrySerializer
    queryset = PatronChange.objects.none()

    def list(self, request: Request) -> Response:
        filters: dict[str, Any] = self.filters(HistoryFilterSerializer)
        institutions = self.visible_institutions()
        code = filters.get("institution")
        if code:
            institutions = institutions.filter(code=code)
        one = institutions.first() if institutions.count() == 1 else None
        zone = institution_zone(one)
        bounds = {}
        for name in ("since", "until"):
            try:
                bounds[name] = history_time_bound(
                    filters.get(name), tz=zone, end=name == "until", name=name
                )
            except HistoryFilterError as exc:
                raise exceptions.ValidationError({name: [str(exc)]}) from None
        changes = history_filter(
            institutions=institutions,
            primary_id=filters.get("user", ""),
            since=bounds["since"],
            until=bounds["until"],
            job_id=filters.get("job"),
        )
        return self.paginated(changes, HistoryEntrySerializer)
