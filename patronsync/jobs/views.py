"""Job pages: the list of runs, and a job's report with its records (and the CSV download)."""

from __future__ import annotations

import csv
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.views import View
from django.views.generic import DetailView, ListView

from patronsync.accounts.views import InstitutionRoleMixin
from patronsync.core.csvsafe import csv_safe_row

from .choices import RecordOutcome
from .models import Job
from .selectors import RECORD_CSV_FIELDS, job_records, job_report


class JobListView(InstitutionRoleMixin, ListView):
    template_name = "jobs/job_list.html"
    paginate_by = 50

    def get_queryset(self) -> QuerySet[Job]:
        jobs = Job.objects.filter(institution=self.institution).select_related("profile")
        profile = self.request.GET.get("profile")
        return jobs.filter(profile__code=profile) if profile else jobs


class JobDetailView(InstitutionRoleMixin, DetailView):
    template_name = "jobs/job_detail.html"
    context_object_name = "job"

    def get_queryset(self) -> QuerySet[Job]:
        return Job.objects.filter(institution=self.institution).select_related("profile")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        outcome = self.request.GET.get("outcome") or RecordOutcome.REJECTED
        context["report"] = job_report(job=self.object)
        context["outcome"] = outcome
        context["outcomes"] = RecordOutcome.choices
        context["records"] = job_records(job=self.object, outcome=outcome)[:500]
        return context


class JobRecordsCsvView(InstitutionRoleMixin, View):
    """Every record of a job as CSV: the report's alternative download."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        job = get_object_or_404(Job, pk=pk, institution=self.institution)
        response = HttpResponse(content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="job-{job.process_id}.csv"'
        writer = csv.writer(response)
        writer.writerow(RECORD_CSV_FIELDS)
        for row in job_records(job=job).values_list(*RECORD_CSV_FIELDS).iterator():
            writer.writerow(csv_safe_row(row))
        return response
