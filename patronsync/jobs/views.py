"""Job pages: Monitor Jobs (running, scheduled, history), a job's report ("Patron Import
Results") with its records and the CSV download, the live progress fragment, and cancel."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views import View
from django.views.generic import DetailView, TemplateView

from patronsync.accounts.views import ConfigureRequiredMixin, InstitutionRoleMixin
from patronsync.core.csvsafe import csv_safe_lines

from .charts import trend_chart
from .choices import JobStatus, RecordOutcome
from .forms import JobHistoryFilterForm, JobRecordFilterForm
from .models import Job
from .selectors import (
    RECORD_CSV_FIELDS,
    job_history_filter,
    job_profile_trend,
    job_progress,
    job_record_counts,
    job_records_described,
    job_records_search,
    jobs_active,
    jobs_scheduled,
)
from .services import (
    JobAlreadyRunning,
    JobNotCancellable,
    JobNotRerunnable,
    SectionNotActive,
    job_cancel,
    job_rerun,
)

TABS = (("running", "Running"), ("scheduled", "Scheduled"), ("history", "History"))
HISTORY_PER_PAGE = 50
RECORDS_PER_PAGE = 50
# The listed outcomes the report counts per file (unchanged users are counted, not listed).
FILE_COLUMNS = (RecordOutcome.CREATED, RecordOutcome.UPDATED, RecordOutcome.REJECTED)
FILE_COLUMNS_DRY_RUN = (
    RecordOutcome.WOULD_CREATE,
    RecordOutcome.WOULD_UPDATE,
    RecordOutcome.REJECTED,
)


def page_of(request: HttpRequest, items: QuerySet[Any], per_page: int) -> dict[str, Any]:
    """The page `?page=` asks for (the last one when past the end, the first when not a
    number) as `page_obj`, and `page_links`: the first, the last and two either side of this
    one, `…` between (`jobs/_paging.html` draws them)."""
    paginator = Paginator(items, per_page)
    page = paginator.get_page(request.GET.get("page"))
    links = paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1)
    return {"page_obj": page, "page_links": list(links)}


class JobListView(InstitutionRoleMixin, TemplateView):
    """Monitor Jobs: the Running tab (live progress), Scheduled (next runs) and History
    (filtered, paged). A link with history filters and no tab opens History."""

    template_name = "jobs/job_list.html"

    def tab(self) -> str:
        asked = self.request.GET.get("tab", "")
        if asked in dict(TABS):
            return asked
        filters = set(JobHistoryFilterForm.base_fields) | {"page"}
        return "history" if filters & set(self.request.GET) else "running"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        tab = self.tab()
        active = jobs_active(institution=self.institution)
        context.update(tab=tab, tabs=TABS, running_count=active.count())
        if tab == "running":
            context["active"] = [(job, job_progress(job=job)) for job in active]
            context["newest"] = max((job.pk for job, _ in context["active"]), default=0)
        elif tab == "scheduled":
            context["sections"] = jobs_scheduled(institution=self.institution)
        else:
            form = JobHistoryFilterForm(self.request.GET or None, institution=self.institution)
            jobs = job_history_filter(institution=self.institution, **form.filters())
            context.update(form=form, **page_of(self.request, jobs, HISTORY_PER_PAGE))
        return context


class JobsStartedView(InstitutionRoleMixin, TemplateView):
    """The Running tab's watch for new jobs (htmx fragment, polled): the jobs pending or
    running whose id is above `?after=`, each with its live progress, then the watch again,
    after the newest one. A job that started and ended between two polls is in History."""

    template_name = "jobs/_jobs_started.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        try:
            after = max(int(self.request.GET.get("after", "0")), 0)
        except ValueError:
            after = 0
        started = jobs_active(institution=self.institution).filter(pk__gt=after)
        context["active"] = [(job, job_progress(job=job)) for job in started]
        context["newest"] = max((job.pk for job, _ in context["active"]), default=after)
        return context


class JobScopedMixin(InstitutionRoleMixin):
    """A job of the current institution (another institution's job is a 404)."""

    def get_queryset(self) -> QuerySet[Job]:
        return Job.objects.filter(institution=self.institution).select_related(
            "profile", "institution"
        )


class JobDetailView(JobScopedMixin, DetailView):
    """The report, as Alma's "Patron Import Results": status, times, summary, counters per
    file and outcome, parameters, files, the records (filtered, 50 a page, every page
    reachable) with their changes, the profile's trend, and the log."""

    template_name = "jobs/job_detail.html"
    context_object_name = "job"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        job = self.object
        counts = job_record_counts(job=job)
        form = JobRecordFilterForm(self.request.GET or None, counts=counts)
        filters = form.filters()
        paging = page_of(self.request, job_records_search(job=job, **filters), RECORDS_PER_PAGE)
        trend = job_profile_trend(job=job)
        listed = FILE_COLUMNS_DRY_RUN if job.dry_run else FILE_COLUMNS
        labels = dict(RecordOutcome.choices)
        current = filters.get("outcome", "")
        context.update(
            file_columns=[(outcome, labels[outcome]) for outcome in listed],
            file_rows=[(f, [f.outcomes.get(o, 0) for o in listed]) for f in counts.files],
            outcome_links=[
                (value, label, counts.outcomes.get(value, 0))
                for value, label in RecordOutcome.choices
                if counts.outcomes.get(value) or value == current
            ],
            current_outcome=current,
        )
        context.update(
            progress=job_progress(job=job),
            counts=counts,
            outcomes=RecordOutcome.choices,
            form=form,
            filtered=bool(filters),
            records=job_records_described(records=paging["page_obj"], institution=self.institution),
            **paging,
            trend=trend_chart(jobs=trend, zone_name=self.institution.time_zone, current=job),
        )
        return context


class JobProgressView(JobScopedMixin, DetailView):
    """The live progress of a job (htmx fragment): polled while the job is pending or running;
    the row of an ended job carries no trigger, so the polling stops there."""

    template_name = "jobs/_job_progress.html"
    context_object_name = "job"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["progress"] = job_progress(job=self.object)
        context["where"] = "list" if self.request.GET.get("from") == "list" else "detail"
        return context


class JobRecordsCsvView(JobScopedMixin, View):
    """The report's "View alternative report": every record the report's filters select, as
    CSV, streamed (no cap), formulas neutralized."""

    def get(self, request: HttpRequest, pk: int) -> StreamingHttpResponse:
        job = get_object_or_404(self.get_queryset(), pk=pk)
        form = JobRecordFilterForm(request.GET or None, counts=job_record_counts(job=job))
        records = job_records_search(job=job, **form.filters()).values_list(*RECORD_CSV_FIELDS)
        response = StreamingHttpResponse(
            csv_safe_lines(RECORD_CSV_FIELDS, records.iterator()),
            content_type="text/csv; charset=utf-8",
        )
        response["Content-Disposition"] = f'attachment; filename="job-{job.process_id}.csv"'
        return response


class JobCancelView(ConfigureRequiredMixin, JobScopedMixin, View):
    """Cancel a pending or running job (General System Administrator), then back to the page
    the button was on: Monitor Jobs' Running tab, or the report."""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        job = get_object_or_404(self.get_queryset(), pk=pk)
        try:
            job = job_cancel(job=job, actor=request.user.get_username())
        except JobNotCancellable as exc:
            messages.error(request, f"{job.title} was not cancelled: {exc}.")
        else:
            if job.status == JobStatus.CANCELLED:
                messages.success(request, f"{job.title} (Process ID {job.process_id}) cancelled.")
            else:
                messages.success(
                    request,
                    f"Cancel requested: {job.title} (Process ID {job.process_id}) stops after "
                    "the batch it is committing.",
                )
        if request.POST.get("from") == "list":
            return HttpResponseRedirect(reverse("jobs:list") + "?tab=running")
        return HttpResponseRedirect(reverse("jobs:detail", args=[job.pk]))


class JobRunAgainView(ConfigureRequiredMixin, View):
    """POST "Run again" (General System Administrator): start a job of the same profile and
    kind that loads exactly the users this job rejected, from the XML kept on its records
    (`jobs.rerun`), then show the new job's report."""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        job = get_object_or_404(Job, pk=pk, institution=self.institution)
        try:
            rerun = job_rerun(job=job)
        except (JobNotRerunnable, JobAlreadyRunning, SectionNotActive) as exc:
            messages.error(request, f"{job.title} was not run again: {exc}.")
            return HttpResponseRedirect(reverse("jobs:detail", args=[job.pk]))
        messages.success(
            request,
            f"Running again the rejected users of job {job.process_id}: {rerun.title} "
            f"(Process ID {rerun.process_id}) starts as soon as a worker takes it.",
        )
        return HttpResponseRedirect(reverse("jobs:detail", args=[rerun.pk]))
