"""Purge User Records from the profile page, and a job's rejected users as a zip.

The purge page (General System Administrator) is a confirmation: the profile's purge settings
in words, how many users they would purge today, and a form that starts a dry run, a live run,
or a live run of exactly the users a completed dry run listed. The job is created pending
(`jobs.purge.profile_purge_start`); a worker runs it, and the administrator lands on its report.

The rejected users' zip holds whole records as the feed sent them (a PIN among them), so it is
for General System Administrators, who run the feeds, as in the API.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import FileResponse, HttpRequest, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect
from django.views import View
from django.views.generic import TemplateView

from patronsync.accounts.views import ConfigureRequiredMixin
from patronsync.core.exceptions import ConfigurationError
from patronsync.profiles.models import IntegrationProfile
from patronsync.profiles.purge import PurgeSettingError, purge_settings

from .choices import JobKind, JobStatus, JobTrigger
from .exceptions import JobAlreadyRunning
from .models import Job
from .modes import purge_today
from .purge import PurgeNotStartable, profile_purge_start, purge_candidates
from .repost import job_rejected_zip_file, job_rejected_zip_name

DRY_RUN, LIVE = "dry_run", "live"
DRY_RUNS_OFFERED = 10


class PurgeForm(forms.Form):
    """How to purge: a dry run, a live run, or a live run of one dry run's users."""

    mode = forms.ChoiceField(
        label="Run",
        choices=[
            (DRY_RUN, "Dry run: list the users it would purge, write nothing"),
            (LIVE, "Live run: purge the users now"),
        ],
        widget=forms.RadioSelect,
        initial=DRY_RUN,
    )
    from_dry_run = forms.ChoiceField(
        label="Users to purge",
        required=False,
        help_text="A live run purges exactly the users the dry run chosen here listed; "
        "without one it chooses them again now.",
    )
    confirm = forms.BooleanField(
        label="I understand that a live run removes or anonymises these users for good",
        required=False,
    )

    def __init__(self, *args: Any, dry_runs: list[Job], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.dry_runs = {str(job.pk): job for job in dry_runs}
        field = self.fields["from_dry_run"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "Choose them again now")] + [
            (str(job.pk), f"Those dry run {job.process_id} listed") for job in dry_runs
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("mode") == LIVE and not data.get("confirm"):
            self.add_error("confirm", "Confirm the live run: it cannot be undone.")
        if data.get("mode") == DRY_RUN and data.get("from_dry_run"):
            self.add_error("from_dry_run", "A dry run chooses the users itself; choose none.")
        return data


class ProfilePurgeMixin(ConfigureRequiredMixin):
    """The profile of the URL, within the current institution (another's is a 404)."""

    kwargs: dict[str, Any]

    def profile(self) -> IntegrationProfile:
        return get_object_or_404(
            IntegrationProfile, pk=self.kwargs["profile_pk"], institution=self.institution
        )

    def dry_runs(self, profile: IntegrationProfile) -> list[Job]:
        return list(
            Job.objects.filter(
                profile=profile, kind=JobKind.PURGE, dry_run=True, status=JobStatus.COMPLETED
            )
            .select_related("profile")
            .order_by("-created_at", "-id")[:DRY_RUNS_OFFERED]
        )


class ProfilePurgeView(ProfilePurgeMixin, TemplateView):
    """GET: the confirmation page; POST: start the purge and show its report."""

    template_name = "jobs/profile_purge.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        profile = context.get("profile") or self.profile()
        context["profile"] = profile
        try:
            settings = purge_settings(profile.purge, institution=profile.institution)
        except PurgeSettingError as exc:
            context["settings_error"] = str(exc)
            return context
        today = purge_today(institution=profile.institution)
        context.update(
            settings=settings.describe(),
            today=today,
            due=purge_candidates(
                institution=profile.institution,
                profile_code=profile.code,
                settings=settings,
                today=today,
            ).count(),
            purge_date_before=settings.purge_date_before(today),
            form=context.get("form") or self.initial_form(profile),
        )
        return context

    def initial_form(self, profile: IntegrationProfile) -> PurgeForm:
        """The form; from a dry run's report (`?from_dry_run=ID`), a live run of its users."""
        form = PurgeForm(dry_runs=self.dry_runs(profile))
        chosen = self.request.GET.get("from_dry_run", "")
        if chosen in form.dry_runs:
            form.initial = {"mode": LIVE, "from_dry_run": chosen}
        return form

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponseBase:
        profile = self.profile()
        dry_runs = self.dry_runs(profile)
        form = PurgeForm(request.POST, dry_runs=dry_runs)
        if not form.is_valid():
            for name in form.errors:
                if name in form.fields:
                    form.fields[name].widget.attrs.update(
                        {"aria-invalid": "true", "aria-describedby": f"id_{name}-error"}
                    )
            return self.render_to_response(self.get_context_data(profile=profile, form=form))
        source = form.dry_runs.get(form.cleaned_data.get("from_dry_run") or "")
        try:
            job = profile_purge_start(
                profile=profile,
                dry_run=form.cleaned_data["mode"] == DRY_RUN,
                from_dry_run=source,
                trigger=JobTrigger.MANUAL,
            )
        except (PurgeNotStartable, ConfigurationError, JobAlreadyRunning) as exc:
            messages.error(request, f"Purge User Records of {profile.code} did not start: {exc}.")
            return redirect("jobs:profile-purge", profile_pk=profile.pk)
        what = "dry run: nothing is written" if job.dry_run else "live"
        messages.success(
            request,
            f"{job.title} ({what}) is pending (Process ID {job.process_id}); a worker runs it, "
            "and this report follows it.",
        )
        return redirect("jobs:detail", pk=job.pk)


class JobRejectedZipView(ConfigureRequiredMixin, View):
    """GET: the job's rejected users as a zip of one Alma User XML file, as the feed sent
    them (General System Administrator: the records hold personal data, a PIN among them)."""

    def get(self, request: HttpRequest, pk: int) -> FileResponse:
        job = get_object_or_404(Job, pk=pk, institution=self.institution)
        spool, users = job_rejected_zip_file(job=job)
        response = FileResponse(
            spool,
            as_attachment=True,
            filename=job_rejected_zip_name(job=job),
            content_type="application/zip",
        )
        response["X-Patronsync-Users"] = str(users)
        return response
