"""Purge User Records and re-posting through the API: start a purge of a profile's users (202,
as `run`), and download a job's rejected users as the zip the feed sent them in."""

from __future__ import annotations

import json
from typing import Any

from django.http import FileResponse
from rest_framework import exceptions, serializers, status
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from patronsync.accounts.choices import Action, ApiScope
from patronsync.core.exceptions import ConfigurationError
from patronsync.jobs.models import Job
from patronsync.jobs.purge import PurgeNotStartable, profile_purge_start
from patronsync.jobs.repost import job_rejected_zip_file, job_rejected_zip_name
from patronsync.jobs.rerun import job_rejected_count_without_xml
from patronsync.jobs.services import JobAlreadyRunning
from patronsync.profiles.models import IntegrationProfile

from ..access import ApiCaller
from ..serializers import JobAcceptedSerializer
from .base import Conflict


class PurgeStartSerializer(serializers.Serializer):
    """Start Purge User Records of this profile's users: a dry run, a live run, or a live run
    of exactly the users a dry run listed."""

    dry_run = serializers.BooleanField(default=False)
    from_dry_run = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="The id of a completed purge dry run of this profile: purge exactly the "
        "users it listed, with its settings.",
    )


def purge_start(*, profile: IntegrationProfile, request: Request) -> Response:
    """Start a purge of `profile` through `profile_purge_start`; 202 with the pending job."""
    data = PurgeStartSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    values = data.validated_data
    source = None
    if values.get("from_dry_run"):
        source = Job.objects.filter(
            pk=values["from_dry_run"], institution_id=profile.institution_id
        ).first()
        if source is None:
            raise exceptions.ValidationError(
                {"from_dry_run": [f"No job {values['from_dry_run']} in this institution."]}
            )
    try:
        job = profile_purge_start(profile=profile, dry_run=values["dry_run"], from_dry_run=source)
    except PurgeNotStartable as exc:
        raise exceptions.ValidationError({"from_dry_run": [str(exc)]}) from None
    except ConfigurationError as exc:
        raise Conflict(str(exc)) from None
    except JobAlreadyRunning as exc:  # pending, running or held
        raise Conflict(str(exc)) from None
    accepted = JobAcceptedSerializer(job, context={"request": request}).data
    return Response(
        accepted, status=status.HTTP_202_ACCEPTED, headers={"Location": accepted["url"]}
    )


def rejected_zip(*, job: Job, caller: ApiCaller) -> FileResponse:
    """The job's rejected users as the zip they came in. It holds whole records as the feed
    sent them (a PIN among them): a General System Administrator's, or a key's with
    `users:write`; 403 otherwise."""
    if not caller.can(
        institution_id=job.institution_id, action=Action.CONFIGURE, scope=ApiScope.USERS_WRITE
    ):
        raise exceptions.PermissionDenied(
            "The rejected users' records hold personal data as the feed sent it: downloading "
            "them needs a General System Administrator, or an API key with users:write."
        )
    spool, users = job_rejected_zip_file(job=job)
    response = FileResponse(
        spool,
        as_attachment=True,
        filename=job_rejected_zip_name(job=job),
        content_type="application/zip",
    )
    response["X-Patronsync-Users"] = str(users)
    response["X-Patronsync-Users-Without-Xml"] = str(job_rejected_count_without_xml(job=job))
    return response


class ZipRenderer(BaseRenderer):
    """Lets a client ask for `application/zip`; errors then come as JSON."""

    media_type = "application/zip"
    format = "zip"
    charset = None
    render_style = "binary"

    def render(self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None):
        return json.dumps(data).encode() if data is not None else b""
