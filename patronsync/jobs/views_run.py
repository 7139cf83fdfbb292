"""Run a profile now from its pages: Import or Synchronize, or a dry run of either.

Here, not in the profiles app, because the profiles app knows no job. The job is created pending
(`services.job_start`); the embedded worker or a Celery worker runs it, and the administrator
lands on its report page, which follows it.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect
from django.views import View

from patronsync.accounts.views import ConfigureRequiredMixin
from patronsync.profiles.models import IntegrationProfile

from .choices import SECTION_KIND_CHOICES, JobTrigger
from .exceptions import JobAlreadyRunning, SectionNotActive
from .services import job_start


class ProfileRunForm(forms.Form):
    """What to run: the section's kind of job, and whether it is a dry run (writes nothing)."""

    kind = forms.ChoiceField(label="Job", choices=SECTION_KIND_CHOICES)
    dry_run = forms.BooleanField(label="Dry run", required=False)


class ProfileRunView(ConfigureRequiredMixin, View):
    """POST kind=import|synchronize (and dry_run): start a job of the profile and show its
    report; a section that is not active, or a job of the profile already pending or running,
    comes back as a message on the profile list."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, profile_pk: int, **kwargs: Any) -> HttpResponseBase:
        profile = get_object_or_404(IntegrationProfile, pk=profile_pk, institution=self.institution)
        form = ProfileRunForm(request.POST)
        if not form.is_valid():
            kinds = ", ".join(kind for kind, _label in SECTION_KIND_CHOICES)
            messages.error(request, f"Job: choose what to run ({kinds}).")
            return redirect("profiles:list")
        try:
            job = job_start(
                profile=profile,
                kind=form.cleaned_data["kind"],
                dry_run=form.cleaned_data["dry_run"],
                trigger=JobTrigger.MANUAL,
            )
        except (SectionNotActive, JobAlreadyRunning) as exc:
            messages.error(request, f"{profile.name} ({profile.code}) was not run: {exc}.")
            return redirect("profiles:list")
        dry = " (dry run: nothing is written)" if job.dry_run else ""
        messages.success(
            request,
            f"{job.title}{dry} is pending (Process ID {job.process_id}); a worker runs it, "
            "and this report follows it.",
        )
        return redirect("jobs:detail", pk=job.pk)
