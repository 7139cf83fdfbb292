"""Allowed S/FTP connections, connections and integration profiles: list, read, create, change;
test a connection, read its public key, trust its server's key; run a profile now."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import exceptions, serializers, status
from rest_framework.decorators import action
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from patronsync.connections.hostkeys import host_key_probe, host_key_trust
from patronsync.connections.models import AllowedConnection, Connection
from patronsync.connections.services import (
    ConnectionInUse,
    allowed_connection_create,
    allowed_connection_delete,
    allowed_connection_update,
    connection_create,
    connection_delete,
    connection_test,
)
from patronsync.core.exceptions import PatronsyncError
from patronsync.jobs.services import JobAlreadyRunning, SectionNotActive, job_start
from patronsync.profiles.choices import IntegrationType
from patronsync.profiles.models import IntegrationProfile
from patronsync.profiles.services import connection_change, profile_create, profile_update

from ..schema import ErrorSerializer
from ..serializers import (
    AllowedConnectionInputSerializer,
    AllowedConnectionSerializer,
    ConnectionInputSerializer,
    ConnectionSerializer,
    ConnectionTestSerializer,
    ConnectionTrustSerializer,
    JobAcceptedSerializer,
    ProfileInputSerializer,
    ProfileRunSerializer,
    ProfileSerializer,
)
from .base import ApiViewSet, Conflict
from .purge import PurgeStartSerializer, purge_start

INSTITUTION_PARAMETER = OpenApiParameter(
    "institution", str, description="Limit to one institution (by code)."
)


class ProfileFilterSerializer(serializers.Serializer):
    """Filters of the profile list."""

    integration_type = serializers.ChoiceField(choices=IntegrationType.choices, required=False)
    institution = serializers.CharField(required=False)


class PlainTextRenderer(BaseRenderer):
    """Lets a client ask for `text/plain`; errors then come as one line of text."""

    media_type = "text/plain"
    format = "txt"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None):
        if isinstance(data, dict) and "detail" in data:
            return str(data["detail"])
        return "" if data is None else str(data)


@extend_schema_view(
    list=extend_schema(
        summary="List the Allowed S/FTP Connections", parameters=[INSTITUTION_PARAMETER]
    ),
    retrieve=extend_schema(summary="Read a row of the Allowed S/FTP Connections"),
    create=extend_schema(
        summary="Allow an S/FTP server",
        request=AllowedConnectionInputSerializer,
        responses={201: AllowedConnectionSerializer},
    ),
    update=extend_schema(
        summary="Change a row of the Allowed S/FTP Connections",
        request=AllowedConnectionInputSerializer,
        responses=AllowedConnectionSerializer,
    ),
    partial_update=extend_schema(
        summary="Change some fields of a row of the Allowed S/FTP Connections",
        request=AllowedConnectionInputSerializer,
        responses=AllowedConnectionSerializer,
    ),
    destroy=extend_schema(
        summary="Remove a row of the Allowed S/FTP Connections", responses={204: None}
    ),
)
class AllowedConnectionViewSet(ApiViewSet):
    """Alma's Allowed S/FTP Connections (Ftp Include List): while an institution is in
    implementation, its S/FTP definitions reach only the enabled hosts of this table."""

    serializer_class = AllowedConnectionSerializer
    queryset = AllowedConnection.objects.none()

    def get_queryset(self) -> QuerySet[AllowedConnection]:
        return self.visible_rows(AllowedConnection)

    def list(self, request: Request) -> Response:
        return self.paginated(self.get_queryset(), AllowedConnectionSerializer)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(AllowedConnectionSerializer(self.get_object()).data)

    def create(self, request: Request) -> Response:
        data = AllowedConnectionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        institution = self.institution_for_create(values.pop("institution", None))
        allowed = allowed_connection_create(
            institution=institution, values=values, actor=self.caller.actor
        )
        return Response(AllowedConnectionSerializer(allowed).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, pk: str, partial: bool = False) -> Response:
        allowed = self.get_object()
        data = AllowedConnectionInputSerializer(allowed, data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        values.pop("institution", None)  # a row stays in its institution
        allowed = allowed_connection_update(allowed=allowed, values=values, actor=self.caller.actor)
        return Response(AllowedConnectionSerializer(allowed).data)

    def partial_update(self, request: Request, pk: str) -> Response:
        return self.update(request, pk, partial=True)

    def destroy(self, request: Request, pk: str) -> Response:
        allowed_connection_delete(allowed=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


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
        return self.visible_rows(Connection)

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

    @extend_schema(
        summary="A connection's public key, to install on the server (OpenSSH, one line)",
        operation_id="connections_public_key",
        responses={
            (200, "text/plain"): OpenApiResponse(
                OpenApiTypes.STR, description="ssh-ed25519 AAAA... patronsync-CODE-NAME"
            ),
            (404, "application/json"): ErrorSerializer,
            # With `?format=txt` (or Accept: text/plain) the error comes as text too.
            (404, "text/plain"): OpenApiResponse(OpenApiTypes.STR, description="The error"),
        },
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="public-key",
        url_name="public-key",
        renderer_classes=[JSONRenderer, PlainTextRenderer],
    )
    def public_key(self, request: Request, pk: str) -> HttpResponse:
        connection = self.get_object()
        if not connection.public_key:
            raise exceptions.NotFound(
                f"Connection {connection.name} has no key pair: only sftp definitions have one."
            )
        return HttpResponse(f"{connection.public_key}\n", content_type="text/plain; charset=utf-8")

    @extend_schema(
        summary="Test a connection: log in and count the zip files of each profile's folders",
        description="Answers 200 with `ok: true`, the server's pinned key fingerprint (pinned "
        "now at the first successful connection) and the folders, or `ok: false` with the "
        "failure's `kind` and `message`.",
        request=None,
        responses=ConnectionTestSerializer,
    )
    @action(detail=True, methods=["post"])
    def test(self, request: Request, pk: str) -> Response:
        result = connection_test(connection=self.get_object())
        return Response(ConnectionTestSerializer(result.as_dict()).data)

    @extend_schema(
        summary="Trust the server's new key (after a planned change of it)",
        description="Pins `fingerprint` in place of the old key only if the server shows "
        "exactly that key now; otherwise answers 409 naming both, and nothing is pinned. "
        "Without `fingerprint` it answers 400 with the fingerprint the server shows now, to "
        "compare with the one the server's administrator gives. Nothing but the SSH or TLS "
        "handshake is sent to the server.",
        request=inline_serializer(
            name="ConnectionTrustInput",
            fields={
                "fingerprint": serializers.CharField(
                    help_text="The server's new key as its administrator gave it: "
                    "`SHA256:...` (SFTP, as `ssh-keygen -lf` prints it; FTPS, the "
                    "certificate's as `openssl x509 -fingerprint -sha256` prints it)."
                )
            },
        ),
        responses={200: ConnectionTrustSerializer, 400: ErrorSerializer, 409: ErrorSerializer},
    )
    @action(detail=True, methods=["post"])
    def trust(self, request: Request, pk: str) -> Response:
        connection = self.get_object()
        if not connection.is_remote:
            raise Conflict(f"Connection {connection.name} is a local folder: it has no server key.")
        given = request.data.get("fingerprint", "") if hasattr(request.data, "get") else ""
        if not isinstance(given, str):
            raise exceptions.ValidationError({"fingerprint": ["Not a fingerprint (a string)."]})
        try:
            if not given.strip():
                seen = host_key_probe(connection=connection)
                raise exceptions.ValidationError(
                    {
                        "fingerprint": [
                            f"This field is required: the server of connection {connection.name} "
                            f"shows {seen} now; compare it with the fingerprint the server's "
                            "administrator gives and send that one. Nothing was pinned."
                        ]
                    }
                )
            fingerprint = host_key_trust(connection=connection, fingerprint=given)
        except PatronsyncError as exc:
            raise Conflict(str(exc)) from None
        return Response({"fingerprint": fingerprint})


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
    write_actions = ("run", "purge")

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

    @extend_schema(
        summary="Start Purge User Records of the profile's users (or a dry run); a worker runs it",
        description="Users of the profile whose purge date is more than the profile's "
        "`days_after_purge_date` days in the past, within its filters, less the exempt ones, "
        "are removed or anonymised (its `purge` settings, docs/jobs.md). `from_dry_run`: "
        "exactly the users that completed dry run listed. Answers 202 with the pending job's "
        "`job_id` and `url` (also the `Location` header), as `run` does; 400 naming "
        "`from_dry_run` when it is not a completed purge dry run of the profile; 409 while a "
        "job of the profile is pending, running or held.",
        request=PurgeStartSerializer,
        responses={202: JobAcceptedSerializer, 400: ErrorSerializer, 409: ErrorSerializer},
        parameters=[INSTITUTION_PARAMETER],
    )
    @action(detail=True, methods=["post"])
    def purge(self, request: Request, code: str) -> Response:
        return purge_start(profile=self.get_object(), request=request)


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
