"""The report page's Approve and Reject of a job held by the mass-change guard."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views import View

from patronsync.accounts.views import ConfigureRequiredMixin

from .services import JobNotHeld, PlanNoLongerApplies, job_approve, job_reject
from .views import JobScopedMixin


class JobDecideView(ConfigureRequiredMixin, JobScopedMixin, View):
    """POST Approve or Reject (General System Administrator) of a held job, then back to its
    report: approved, a worker applies its plan; rejected, nothing is applied."""

    decision = "approve"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        job = get_object_or_404(self.get_queryset(), pk=pk)
        actor = request.user.get_username()
        try:
            if self.decision == "approve":
                job = job_approve(job=job, actor=actor)
            else:
                job = job_reject(job=job, actor=actor)
        except (JobNotHeld, PlanNoLongerApplies) as exc:
            messages.error(request, f"{job.title} was not {self.decision}d: {exc}")
        else:
            if self.decision == "approve":
                messages.success(
                    request,
                    f"{job.title} (Process ID {job.process_id}) approved: its plan is applied "
                    "as soon as a worker takes it.",
                )
            else:
                messages.success(
                    request,
                    f"{job.title} (Process ID {job.process_id}) rejected: nothing was applied.",
                )
        return HttpResponseRedirect(reverse("jobs:detail", args=[job.pk]))
