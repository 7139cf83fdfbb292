"""Integration Profile pages: the list, a profile, Alma's two-step wizard, delete, and the live
schedule preview.

Every role may read; only a General System Administrator adds, changes or deletes a profile
(running one is `jobs.views_run`). The wizard keeps step 1 in the session until step 2 is saved,
so nothing is written before Save; `services.profile_create` and `profile_update` check the whole
profile and their errors come back beside the fields they name.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.generic import DetailView, ListView, TemplateView

from patronsync.accounts.views import ConfigureRequiredMixin, InstitutionRoleMixin

from .choices import FieldOwner, IntegrationType, Schedule
from .forms import (
    STEP_1_FIELDS,
    ProfileStep1Form,
    ProfileStep2Form,
    draft_initial,
    match_id_type_label,
    profile_initial,
    step_1_values,
)
from .models import IntegrationProfile
from .services import (
    ProfileInUse,
    SchedulePreview,
    profile_create,
    profile_delete,
    profile_update,
    schedule_preview,
    subscriber_addresses,
)

SECTIONS = (("import", "Import"), ("sync", "Synchronize"))
STEP_1_LABELS = {name: str(ProfileStep1Form.base_fields[name].label) for name in STEP_1_FIELDS}
STEP_1_LABELS |= {"institution": "Institution", "__all__": "Profile"}


def _actor(request: HttpRequest) -> str:
    return str(request.user.get_username())


class ProfileListView(InstitutionRoleMixin, ListView):
    """Alma's Integration Profile List, filtered by integration type."""

    template_name = "profiles/profile_list.html"
    context_object_name = "profiles"
    paginate_by = 50

    def get_queryset(self) -> QuerySet[IntegrationProfile]:
        profiles = IntegrationProfile.objects.filter(institution=self.institution)
        integration_type = self.request.GET.get("integration_type", "")
        if integration_type in IntegrationType.values:
            profiles = profiles.filter(integration_type=integration_type)
        return profiles.order_by("name", "code")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["integration_types"] = IntegrationType.choices
        context["integration_type"] = self.request.GET.get("integration_type", "")
        return context


class ProfileDetailView(InstitutionRoleMixin, DetailView):
    """A profile read-only: both sections, with when each runs next."""

    template_name = "profiles/profile_detail.html"
    context_object_name = "profile"

    def get_queryset(self) -> QuerySet[IntegrationProfile]:
        return IntegrationProfile.objects.filter(institution=self.institution).select_related(
            "connection"
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        profile = self.object
        zone = self.institution.time_zone
        context["import_preview"] = schedule_preview(
            schedule=profile.import_schedule, cron=profile.import_cron, time_zone=zone
        )
        context["sync_preview"] = schedule_preview(
            schedule=profile.sync_schedule, cron=profile.sync_cron, time_zone=zone
        )
        context["import_inactive"] = not profile.import_active
        context["sync_inactive"] = not profile.sync_active
        # Ordered match keys (match_id_types:) show in the order they are tried.
        context["match_id_label"] = ", then ".join(
            match_id_type_label(institution=self.institution, value=value)
            for value in (profile.sync_match_id_types or [profile.sync_match_id_type])
        )
        context["subscribers"] = subscriber_addresses(profile.subscribers)
        owners = dict(FieldOwner.choices)
        context["ownership_rows"] = [
            (field, owners.get(owner, owner))
            for field, owner in sorted((profile.sync_ownership or {}).items())
            if owner != FieldOwner.SIS
        ]
        return context


class ProfileWizardMixin(ConfigureRequiredMixin):
    """What both steps share: the profile edited (None for a new one), and the session's draft
    (`step1`: step 1's cleaned data; `step2`: step 2's input kept when going Back)."""

    profile: IntegrationProfile | None
    kwargs: dict[str, Any]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        self.profile = None
        return super().dispatch(request, *args, **kwargs)

    def setup_profile(self) -> None:
        pk = self.kwargs.get("pk")
        if pk is not None:
            self.profile = get_object_or_404(
                IntegrationProfile.objects.select_related("connection"),
                pk=pk,
                institution=self.institution,
            )

    @property
    def session_key(self) -> str:
        which = self.profile.pk if self.profile is not None else "new"
        return f"profile-wizard:{self.institution.pk}:{which}"

    def draft(self) -> dict[str, Any]:
        return dict(self.request.session.get(self.session_key) or {})

    def draft_save(self, **parts: Any) -> None:
        draft = self.draft() | parts
        self.request.session[self.session_key] = draft

    def draft_clear(self) -> None:
        self.request.session.pop(self.session_key, None)

    def step_url(self, step: int) -> str:
        if self.profile is None:
            return reverse("profiles:new" if step == 1 else "profiles:new-2")
        name = "profiles:edit" if step == 1 else "profiles:edit-2"
        return reverse(name, args=[self.profile.pk])

    def cancel_url(self) -> str:
        if self.profile is None:
            return reverse("profiles:list")
        return reverse("profiles:detail", args=[self.profile.pk])

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["profile"] = self.profile
        context["cancel_url"] = self.cancel_url()
        context["step_1_url"] = self.step_url(1)
        return context


class ProfileStep1View(ProfileWizardMixin, TemplateView):
    """Step 1: code, name, integration type, S/FTP connection, system, description; Next keeps
    them in the session. Opened afresh (not from step 2's Back) it starts a new draft."""

    template_name = "profiles/wizard_step1.html"

    def form(self, data: Any = None) -> ProfileStep1Form:
        initial: dict[str, Any] = {}
        if self.profile is not None:
            initial = profile_initial(self.profile)
        initial |= self.draft().get("step1") or {}
        return ProfileStep1Form(
            data, institution=self.institution, profile=self.profile, initial=initial
        )

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.setup_profile()
        if not request.GET.get("back"):
            self.draft_clear()
        return self.render_to_response(self.get_context_data(form=self.form()))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.setup_profile()
        form = self.form(request.POST)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form))
        self.draft_save(step1=form.session_data())
        return redirect(self.step_url(2))


class ProfileStep2View(ProfileWizardMixin, TemplateView):
    """Step 2: the IMPORT and SYNCHRONIZE sections; Save creates or changes the profile with
    step 1's values, Back returns to step 1 keeping what was typed here."""

    template_name = "profiles/wizard_step2.html"

    def step_1(self) -> dict[str, Any] | None:
        data = self.draft().get("step1")
        if not data and self.profile is not None:
            # Editing: step 2 opened directly keeps the profile's own step 1.
            data = profile_initial(self.profile)
        if not data:
            return None
        return step_1_values(data=data, institution=self.institution)

    def missing_step_1(self) -> HttpResponse:
        messages.info(self.request, "Start with step 1: the profile's code, name and connection.")
        return redirect(self.step_url(1))

    def form(self, data: Any = None) -> ProfileStep2Form:
        initial: dict[str, Any] = {}
        if self.profile is not None:
            initial = profile_initial(self.profile)
        kept = self.draft().get("step2")
        if kept:
            initial |= draft_initial(ProfileStep2Form, kept)
        return ProfileStep2Form(data, institution=self.institution, initial=initial)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        form: ProfileStep2Form = context["form"]
        context["mandatory_fields"] = ("import_input_path", "sync_input_path")
        zone = self.institution.time_zone
        for section, _ in SECTIONS:
            schedule, cron = (
                _form_value(form, f"{section}_schedule"),
                _form_value(form, f"{section}_cron"),
            )
            context[f"{section}_preview"] = schedule_preview(
                schedule=str(schedule or Schedule.NOT_SCHEDULED),
                cron=str(cron or ""),
                time_zone=zone,
            )
        return context

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.setup_profile()
        step_1 = self.step_1()
        if step_1 is None:
            return self.missing_step_1()
        return self.render_to_response(self.get_context_data(form=self.form(), step_1=step_1))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.setup_profile()
        step_1 = self.step_1()
        if step_1 is None:
            return self.missing_step_1()
        if request.POST.get("action") == "back":
            kept = {
                k: v for k, v in request.POST.items() if k not in ("csrfmiddlewaretoken", "action")
            }
            self.draft_save(step2=kept)
            return redirect(f"{self.step_url(1)}?back=1")
        form = self.form(request.POST)
        if form.is_valid():
            values = step_1 | form.cleaned_data
            try:
                profile = self.save(values)
            except ValidationError as exc:
                form.add_service_errors(exc, labels=STEP_1_LABELS)
            else:
                self.draft_clear()
                verb = "created" if self.profile is None else "saved"
                messages.success(
                    request, f"Integration profile {profile.name} ({profile.code}) {verb}."
                )
                return redirect("profiles:detail", pk=profile.pk)
        return self.render_to_response(self.get_context_data(form=form, step_1=step_1))

    def save(self, values: dict[str, Any]) -> IntegrationProfile:
        actor = _actor(self.request)
        if self.profile is None:
            return profile_create(institution=self.institution, values=values, actor=actor)
        values.pop("code", None)  # fixed once created
        return profile_update(profile=self.profile, values=values, actor=actor)


def _form_value(form: ProfileStep2Form, name: str) -> Any:
    """A field's value as the page shows it: what was posted, else its initial value."""
    if form.is_bound:
        return form.data.get(name)
    return form.initial.get(name, form.fields[name].initial)


class ProfileDeleteView(ConfigureRequiredMixin, DetailView):
    """Delete a profile after confirming; refused while one of its jobs is pending or running."""

    template_name = "profiles/profile_confirm_delete.html"
    context_object_name = "profile"

    def get_queryset(self) -> QuerySet[IntegrationProfile]:
        return IntegrationProfile.objects.filter(institution=self.institution)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["job_count"] = self.object.jobs.count()  # type: ignore[attr-defined]
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        profile = self.get_object()
        try:
            profile_delete(profile=profile)
        except ProfileInUse as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request, f"Integration profile {profile.name} ({profile.code}) deleted."
            )
        return redirect("profiles:list")


class SchedulePreviewView(InstitutionRoleMixin, TemplateView):
    """The wizard's live preview of a section's schedule (`?section=import|sync` with that
    section's schedule and cron fields): in plain words, with its next runs in the
    institution's time zone, or what is wrong with it."""

    template_name = "profiles/_schedule_preview.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        params = self.request.GET
        section = params.get("section", "")
        prefix = f"{section}_" if section in dict(SECTIONS) else ""
        schedule = params.get(f"{prefix}schedule") or Schedule.NOT_SCHEDULED
        cron = params.get(f"{prefix}cron") or ""
        preview: SchedulePreview = schedule_preview(
            schedule=schedule, cron=cron, time_zone=self.institution.time_zone
        )
        context["preview"] = preview
        return context
