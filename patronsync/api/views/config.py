"""Connections and integration profiles: list, read, create, change; run a profile now."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from patronsync.connections.models import Connection
from patronsync.connections.services import (
    ConnectionInUse,
    connection_create,
    connection_delete,
)
from patronsync.jobs.services import JobAlreadyRunning, SectionNotActive, job_start
from patronsync.profiles.choices import IntegrationType
from patronsync.profiles.models import IntegrationProfile
from patronsync.profiles.services import connection_change, profile_create, profile_update

from ..schema import ErrorSerializer
from ..serializers import (
    ConnectionInputSerializer,
    ConnectionSerializer,
    JobAcceptedSerializer,
    ProfileInputSerializer,
    ProfileRunSerializer,
    ProfileSerializer,
)
from .base import ApiViewSet, Conflict

INSTITUTION_PARAMETER = OpenApiParameter(
    "institution", str, description="Limit to one institution (by code)."
)


class ProfileFilterSerializer(serializers.Serializer):
    """Filters of the profile list."""

    integration_type = serializers.ChoiceField(choices=IntegrationType.choices, required=False)
    institution = serializers.CharField(required=False)


@extend_schema_view(
    list=extend_schema(summary="List connections", parameters=[INSTITUTION_PARAMETER]),
    retrieve=extend_schema(summary="Read a connection"),
    create=extend_schema(
        summary="Create a connection",
        request=ConnectionInputSerializer,
        responses={201: ConnectionSerializer},
    ),
    update=extend_schema(
        summary="Change a connection",
        request=ConnectionInputSerializer,
        responses=ConnectionSerializer,
    ),
    partial_update=extend_schema(
        summary="Change some fields of a connection",
        request=ConnectionInputSerializer,
        responses=ConnectionSerializer,
    ),
    destroy=extend_schema(
        summary="Delete a connection no profile uses", responses={204: None, 409: ErrorSerializer}
    ),
)
class ConnectionViewSet(ApiViewSet):
    """S/FTP definitions (and local folders). Passwords and private keys are write-only."""

    serializer_class = ConnectionSerializer
    queryset = Connection.objects.none()

    def get_queryset(self) -> QuerySet[Connection]:
        connections = Connection.objects.filter(
            institution__in=self.visible_institutions()
        ).select_related("institution")
        code = self.request.query_params.get("institution")
        return connections.filter(institution__code=code) if code else connections

    def list(self, request: Request) -> Response:
        return self.paginated(self.get_queryset(), ConnectionSerializer)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(ConnectionSerializer(self.get_object()).data)

    def create(self, request: Request) -> Response:
        data = ConnectionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        institution = self.institution_for_create(values.pop("institution", None))
        connection = connection_create(
            institution=institution, values=values, actor=self.caller.actor
        )
        return Response(ConnectionSerializer(connection).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, pk: str, partial: bool = False) -> Response:
        connection = self.get_object()
        data = ConnectionInputSerializer(connection, data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        values.pop("institution", None)  # a connection stays in its institution
        # Through the profiles' service, which refuses a change its profiles cannot keep.
        connection = connection_change(
            connection=connection, values=values, actor=self.caller.actor
        )
        return Response(ConnectionSerializer(connection).data)

    def partial_update(self, request: Request, pk: str) -> Response:
        return self.update(request, pk, partial=True)

    def destroy(self, request: Request, pk: str) -> Response:
        try:
            connection_delete(connection=self.get_object())
        except ConnectionInUse as exc:
            raise Conflict(str(exc)) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(summary="List integration profiles", parameters=[ProfileFilterSerializer]),
    retrieve=extend_schema(summary="Read a profile", parameters=[INSTITUTION_PARAMETER]),
    create=extend_schema(
        summary="Create a profile",
        request=ProfileInputSerializer,
        responses={201: ProfileSerializer},
    ),
    update=extend_schema(
        summary="Change a profile",
        request=ProfileInputSerializer,
        responses=ProfileSerializer,
        parameters=[INSTITUTION_PARAMETER],
    ),
    partial_update=extend_schema(
        summary="Change some fields of a profile",
        request=ProfileInputSerializer,
        responses=ProfileSerializer,
        parameters=[INSTITUTION_PARAMETER],
    ),
)
class ProfileViewSet(ApiViewSet):
    """Integration profiles of type Users, by code; `run` starts a job of one now."""

    serializer_class = ProfileSerializer
    queryset = IntegrationProfile.objects.none()
    lookup_field = "code"
    lookup_value_regex = "[^/]+"
    write_actions = ("run",)

    def get_queryset(self) -> QuerySet[IntegrationProfile]:
        return IntegrationProfile.objects.filter(
            institution__in=self.visible_institutions()
        ).select_related("institution", "connection")

    def get_object(self) -> IntegrationProfile:
        profile: IntegrationProfile = self.one(self.get_queryset(), code=self.kwargs["code"])
        return profile

    def _input(self, *args: Any, **kwargs: Any) -> ProfileInputSerializer:
        connections = Connection.objects.filter(institution__in=self.visible_institutions())
        data = ProfileInputSerializer(*args, context={"connections": connections}, **kwargs)
        data.is_valid(raise_exception=True)
        return data

    def list(self, request: Request) -> Response:
        filters = self.filters(ProfileFilterSerializer)
        profiles = self.get_queryset()
        if "integration_type" in filters:
            profiles = profiles.filter(integration_type=filters["integration_type"])
        if "institution" in filters:
            profiles = profiles.filter(institution__code=filters["institution"])
        return self.paginated(profiles, ProfileSerializer)

    def retrieve(self, request: Request, code: str) -> Response:
        return Response(ProfileSerializer(self.get_object()).data)

    def create(self, request: Request) -> Response:
        values = dict(self._input(data=request.data).validated_data)
        institution = self.institution_for_create(values.pop("institution", None))
        profile = profile_create(institution=institution, values=values, actor=self.caller.actor)
        return Response(ProfileSerializer(profile).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, code: str, partial: bool = False) -> Response:
        profile = self.get_object()
        values = dict(self._input(profile, data=request.data, partial=partial).validated_data)
        values.pop("institution", None)  # a profile stays in its institution
        profile = profile_update(profile=profile, values=values, actor=self.caller.actor)
        return Response(ProfileSerializer(profile).data)

    def partial_update(self, request: Request, code: str) -> Response:
        return self.update(request, code, partial=True)

    @extend_schema(
        summary="Start a profile's job (or a dry run); a worker runs it",
        description="Answers 202 with the pending job's `job_id` and `url` (also the "
        "`Location` header), where its report is read once the job has run.",
        request=ProfileRunSerializer,
        responses={202: JobAcceptedSerializer, 409: ErrorSerializer},
        parameters=[INSTITUTION_PARAMETER],
    )
    @action(detail=True, methods=["post"])
    def run(self, request: Request, code: str) -> Response:
        profile = self.get_object()
        data = ProfileRunSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return start_job(profile=profile, request=request, **data.validated_data)


def start_job(
    *, profile: IntegrationProfile, kind: str, dry_run: bool, request: Request | None = None
) -> Response:
    """Create a job of `profile` through `job_start` and answer 202 with its `job_id` and URL
    (also the `Location` header); 409 when one is pending or running, or when the profile's
    section for `kind` is not active.

    The web process never runs the job: a worker does (`patronsync worker --once`).
    """
    try:
        job = job_start(profile=profile, kind=kind, dry_run=dry_run)
    except (JobAlreadyRunning, SectionNotActive) as exc:
        raise Conflict(str(exc)) from None
    data = JobAcceptedSerializer(job, context={"request": request}).data
    return Response(data, status=status.HTTP_202_ACCEPTED, headers={"Location": data["url"]})
