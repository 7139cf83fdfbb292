"""Jobs: list, report, start (for a worker to run), cancel, approve; records as pages or CSV."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework.decorators import action
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from patronsync.core.csvsafe import csv_safe_lines
from patronsync.jobs.models import Job
from patronsync.jobs.selectors import (
    RECORD_CSV_FIELDS,
    job_list_filter,
    job_records_filter,
    job_report,
    jobs_monitor,
)
from patronsync.jobs.services import (
    JobNotCancellable,
    JobNotHeld,
    PlanNoLongerApplies,
    job_approve,
    job_cancel,
    job_reject,
)
from patronsync.profiles.models import IntegrationProfile

from ..schema import ErrorSerializer
from ..serializers import (
    JobAcceptedSerializer,
    JobFilterSerializer,
    JobRecordFilterSerializer,
    JobRecordSerializer,
    JobReportSerializer,
    JobSerializer,
    JobsMonitorFilterSerializer,
    JobsMonitorSerializer,
    JobStartSerializer,
)
from .base import ApiViewSet, Conflict
from .config import start_job
from .purge import ZipRenderer, rejected_zip


class CsvRenderer(BaseRenderer):
    """Lets a client ask for `text/csv`; errors then come as one line of text."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None):
        if isinstance(data, dict) and "detail" in data:
            return str(data["detail"])
        return "" if data is None else str(data)


@extend_schema_view(
    list=extend_schema(summary="List jobs, newest first", parameters=[JobFilterSerializer]),
    retrieve=extend_schema(summary="A job's report", responses=JobReportSerializer),
)
class JobViewSet(ApiViewSet):
    """Jobs of the caller's institutions. Starting, cancelling and approving need CONFIGURE."""

    serializer_class = JobSerializer
    queryset = Job.objects.none()
    write_actions = ("create", "cancel", "approve", "reject")

    def get_queryset(self) -> QuerySet[Job]:
        return Job.objects.filter(institution__in=self.visible_institutions()).select_related(
            "profile", "institution"
        )

    def list(self, request: Request) -> Response:
        filters = self.filters(JobFilterSerializer)
        jobs = job_list_filter(institutions=self.visible_institutions(), **filters)
        return self.paginated(jobs, JobSerializer)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(JobReportSerializer(job_report(job=self.get_object())).data)

    @extend_schema(
        summary="Monitor Jobs: running jobs with progress, the next scheduled runs, history",
        description="`active`: the pending and running jobs, oldest first, each with its "
        "`progress` (users done of the total its files hold, the rate since it started, the "
        "seconds left at that rate). `scheduled`: each profile section with a schedule and its "
        "next run, soonest first. `history`: the latest jobs that ended (`history`, 20 by "
        "default, at most 200).",
        parameters=[JobsMonitorFilterSerializer],
        # 400: a `history` out of its bounds, naming it.
        responses={200: JobsMonitorSerializer, 400: OpenApiTypes.OBJECT},
    )
    @action(detail=False, methods=["get"])
    def monitor(self, request: Request) -> Response:
        filters = self.filters(JobsMonitorFilterSerializer)
        monitor = jobs_monitor(institutions=self.visible_institutions(), **filters)
        return Response(JobsMonitorSerializer(monitor).data)

    @extend_schema(
        summary="Start a job (or a dry run); a worker runs it",
        description="Creates the pending job and answers 202 with its `job_id` and `url` (also "
        "the `Location` header), where its report is read once the job has run. The web "
        "process never runs a job: a worker does (`patronsync worker --once`). 409 while a job "
        "of the profile is pending or running, or when the profile's section is not active.",
        request=JobStartSerializer,
        responses={202: JobAcceptedSerializer, 409: ErrorSerializer},
    )
    def create(self, request: Request) -> Response:
        data = JobStartSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        profiles = IntegrationProfile.objects.filter(institution__in=self.visible_institutions())
        if values.get("institution"):
            profiles = profiles.filter(institution__code=values["institution"])
        profile = self.one(profiles, code=values["profile"])
        return start_job(
            profile=profile, kind=values["kind"], dry_run=values["dry_run"], request=request
        )

    @extend_schema(
        summary="Cancel a job",
        description="A pending job is cancelled at once, and so is a running job that no "
        "worker holds any more (its worker died: its lease ran out). A running job whose "
        "worker is alive stops after the batch it is committing, and its file is taken again "
        "by the next run.",
        request=None,
        responses={200: JobSerializer, 409: ErrorSerializer},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        try:
            job = job_cancel(job=self.get_object(), actor=self.caller.actor)
        except JobNotCancellable as exc:
            raise Conflict(str(exc)) from None
        return Response(JobSerializer(job).data)

    @extend_schema(
        summary="Approve a job held by the mass-change guard",
        description="A job whose plan crossed a threshold of the profile's mass-change guard is "
        "`held`, with nothing applied (`guard`: the plan's counts and the thresholds crossed). "
        "Approving it sends it back to `pending`: the next worker applies exactly that plan, "
        "without checking the thresholds again (a user stored otherwise since the plan was "
        "made is decided again, and the report says so: `guard.applied.as` is `exact` or "
        "`re-checked`). Records who approved it and when (`decision`, `decided_by`, "
        "`decided_at`). 409 when the job is not held, or when its plan no longer applies "
        "(its files are gone from the folder or changed, a newer job ran), saying what changed.",
        request=None,
        responses={200: JobSerializer, 409: ErrorSerializer},
    )
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str) -> Response:
        try:
            job = job_approve(job=self.get_object(), actor=self.caller.actor)
        except (JobNotHeld, PlanNoLongerApplies) as exc:
            raise Conflict(str(exc)) from None
        return Response(JobSerializer(job).data)

    @extend_schema(
        summary="Reject a job held by the mass-change guard",
        description="The held job ends `cancelled` with nothing applied; its plan stays in its "
        "report. Records who rejected it and when; later runs of the profile go ahead again. "
        "409 when the job is not held.",
        request=None,
        responses={200: JobSerializer, 409: ErrorSerializer},
    )
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str) -> Response:
        try:
            job = job_reject(job=self.get_object(), actor=self.caller.actor)
        except JobNotHeld as exc:
            raise Conflict(str(exc)) from None
        return Response(JobSerializer(job).data)

    @extend_schema(
        summary="A job's rejected users as a zip of Alma User XML, as the feed sent them",
        description="One XML file of the rejected users' `<user>` elements, each exactly as "
        "the feed sent it (re-post: fix and deliver it again, or load it once the cause is "
        "fixed). It holds whole records, a PIN among them: a General System Administrator, or "
        "a key with `users:write` (403 otherwise). `X-Patronsync-Users` counts the users in "
        "it, `X-Patronsync-Users-Without-Xml` those the job kept no XML of (not in it).",
        operation_id="jobs_rejected_zip",
        responses={
            (200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY, description="A zip"),
            (403, "application/json"): ErrorSerializer,
        },
    )
    @action(
        detail=True,
        methods=["get"],
        url_path=r"rejected\.zip",
        url_name="rejected-zip",
        renderer_classes=[JSONRenderer, ZipRenderer],
        pagination_class=None,
    )
    def rejected_zip(self, request: Request, pk: str) -> FileResponse:
        return rejected_zip(job=self.get_object(), caller=self.caller)

    @extend_schema(
        summary="A job's records (one per incoming user), filtered and paginated",
        parameters=[JobRecordFilterSerializer],
        responses=JobRecordSerializer(many=True),
    )
    @action(detail=True, methods=["get"])
    def records(self, request: Request, pk: str) -> Response:
        job = self.get_object()
        filters = self.filters(JobRecordFilterSerializer)
        return self.paginated(job_records_filter(job=job, **filters), JobRecordSerializer)

    @extend_schema(
        summary="A job's records as CSV (the columns of `patronsync report JOB --csv`)",
        operation_id="jobs_records_csv",
        parameters=[JobRecordFilterSerializer],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV with a header"),
        },
    )
    @action(
        detail=True,
        methods=["get"],
        url_path=r"records\.csv",
        url_name="records-csv",
        renderer_classes=[JSONRenderer, CsvRenderer],
        pagination_class=None,
    )
    def records_csv(self, request: Request, pk: str) -> StreamingHttpResponse:
        job = self.get_object()
        filters = self.filters(JobRecordFilterSerializer)
        rows = job_records_filter(job=job, **filters).values_list(*RECORD_CSV_FIELDS)
        response = StreamingHttpResponse(
            csv_safe_lines(RECORD_CSV_FIELDS, rows.iterator()),
            content_type="text/csv; charset=utf-8",
        )
        response["Content-Disposition"] = f'attachment; filename="job-{job.process_id}-records.csv"'
        return response
