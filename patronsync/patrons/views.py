"""User pages: search, a user's record with where each value came from, editing, Restore, history.

Every role reads; User Managers and General System Administrators edit and restore
(`EditUsersRequiredMixin`). Users are looked up within the current institution only, so another
institution's user is a 404. Writes go through `services.patron_update` and
`services.patron_restore`, with the staff account as the actor of the history row.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views import View
from django.views.generic import DetailView, ListView
from django.views.generic.base import ContextMixin

from patronsync.accounts.views import EditUsersRequiredMixin, InstitutionRoleMixin
from patronsync.core.exceptions import PatronsyncError, RuleViolation
from patronsync.core.selectors import CodeTables, code_tables_for_institution

from .choices import AccountType, ActorKind
from .fields import CORE_FIELDS, PROTECTED_FIELDS, PROTECTED_SEGMENT_KEYS
from .forms import (
    SEGMENT_FORMS,
    NamedErrorsFormSet,
    PatronForm,
    RestoreForm,
    edited_json,
    field_label,
    segment_editable,
    segment_formset,
    stored_segments,
)
from .models import Patron
from .planning import Actor
from .selectors import patron_history, patron_search, patron_to_json, patron_version
from .services import patron_restore, patron_set_exempt, patron_update

HISTORY_ON_PAGE = 10
GENERAL_FIELDS = (
    "primary_id", "user_title", "first_name", "middle_name", "last_name", "pref_first_name",
    "pref_middle_name", "pref_last_name", "pref_name_suffix", "gender", "birth_date",
    "user_group", "job_category", "job_description", "campus_code", "preferred_language",
    "cataloger_level", "web_site_url", "expiry_date", "purge_date", "status", "status_date",
    "is_researcher",
)  # fmt: skip
SEGMENT_NAMES = {
    "address": "address",
    "email": "email",
    "phone": "phone",
    "user_identifier": "identifier",
    "user_note": "note",
}
ACCOUNT_FIELDS = ("record_type", "account_type", "external_id", "force_password_change")


class PatronQuerysetMixin(InstitutionRoleMixin, ContextMixin):
    """The current institution's users: another institution's user is a 404."""

    def get_queryset(self) -> QuerySet[Patron]:
        return Patron.objects.filter(institution=self.institution)

    def get_patron(self, pk: int) -> Patron:
        return get_object_or_404(self.get_queryset(), pk=pk)


class PatronListView(InstitutionRoleMixin, ListView):
    """Find a user: primary ID, identifier, the start of a name (either order) or an email."""

    template_name = "patrons/patron_list.html"
    paginate_by = 50

    def get_queryset(self) -> QuerySet[Patron]:
        query = self.request.GET.get("q") or ""
        return patron_search(institution=self.institution, query=query).only(
            "id", "primary_id", "first_name", "middle_name", "last_name", "user_group",
            "status", "expiry_date", "account_type",
        )  # fmt: skip

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        codes = code_tables_for_institution(institution=self.institution)
        context["q"] = (self.request.GET.get("q") or "").strip()
        context["rows"] = [
            {
                "patron": patron,
                "user_group": _code_text(codes, "user_group", patron.user_group),
            }
            for patron in context["object_list"]
        ]
        return context


def _code_text(codes: CodeTables, name: str, code: str) -> str:
    table = CORE_FIELDS[name].table
    desc = codes.description(table, code) if table and code else None
    return f"{desc} ({code})" if desc and desc != code else code


def describe(value: Any) -> str:
    """A stored value as people read it: codes by their value, segments as their parts."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return "; ".join(describe(item) for item in value)
    if isinstance(value, dict):
        if set(value) <= {"value", "desc"}:
            code = str(value.get("value", ""))
            desc = value.get("desc")
            return f"{desc} ({code})" if desc and desc != code else code
        parts = []
        for key, item in value.items():
            if key == "segment_type" or item in (None, "", [], False):
                continue
            parts.append(field_label(key) if item is True else describe(item))
        return ", ".join(parts) or "—"
    return str(value)


def _protection_rows(patron: Patron, codes: CodeTables) -> dict[str, dict[str, Any]]:
    """For each protected field the library changed: what the SIS sent last, readable."""
    rows = {}
    for name in PROTECTED_FIELDS:
        state = patron.protection.get(name) or {}
        if not state.get("manual"):
            continue
        sis = state.get("sis")
        if name == "pin_number":
            shown = "the SIS's PIN (never shown)" if sis else "none (the SIS has sent none)"
        elif name in CORE_FIELDS and CORE_FIELDS[name].kind == "code" and sis:
            shown = _code_text(codes, name, str(sis))
        else:
            shown = describe(sis) if sis not in (None, "", []) else "none (the SIS has sent none)"
        rows[PROTECTED_SEGMENT_KEYS.get(name, name)] = {
            "field": name,
            "label": field_label(name),
            "sis": shown,
        }
    return rows


def _general_rows(data: dict[str, Any], names: tuple[str, ...]) -> list[dict[str, Any]]:
    rows = []
    for name in names:
        value = data.get(name)
        if CORE_FIELDS[name].kind == "date" and value:
            value = str(value)[:10]  # the JSON form's "2030-01-31Z" is a date, shown as one
        rows.append({"name": name, "label": field_label(name), "value": describe(value)})
    return rows


def _segment_rows(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "item": item,
            "text": describe(item),
            "segment_type": item.get("segment_type", ""),
            "preferred": bool(item.get("preferred")),
        }
        for item in items
    ]


class PatronDetailView(PatronQuerysetMixin, DetailView):
    """The user's record in Alma's sections, each segment marked Internal or External, and the
    protected fields the library changed, with their Restore buttons."""

    template_name = "patrons/patron_detail.html"
    context_object_name = "patron"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        patron: Patron = self.object
        codes = code_tables_for_institution(institution=self.institution)
        data = patron_to_json(patron, codes=codes)
        protected = _protection_rows(patron, codes)
        general = _general_rows(data, GENERAL_FIELDS)
        for row in general:
            row["protected"] = protected.get(row["name"])
        context.update(
            user=data,
            general=general,
            account=_general_rows(data, ACCOUNT_FIELDS),
            protected=protected,
            protected_pin=protected.get("pin_number"),
            protected_lists=[
                protected[key] for key in PROTECTED_SEGMENT_KEYS.values() if key in protected
            ],
            addresses=_segment_rows(data["contact_info"]["address"]),
            emails=_segment_rows(data["contact_info"]["email"]),
            phones=_segment_rows(data["contact_info"]["phone"]),
            identifiers=_segment_rows(data["user_identifier"]),
            notes=_segment_rows(data["user_note"]),
            statistics=_segment_rows(data["user_statistic"]),
            blocks=_segment_rows(data["user_block"]),
            roles=_segment_rows(data["user_role"]),
            rs_libraries=describe(data["rs_library"]),
            library_notices=describe(data["library_notice"]),
            history=history_rows(patron_history(patron=patron)[:HISTORY_ON_PAGE], codes),
            history_more=patron_history(patron=patron).count() > HISTORY_ON_PAGE,
        )
        return context


def _history_value(codes: CodeTables, name: str, value: Any) -> str:
    """A value as a history row keeps it, readable: a core code with its description."""
    spec = CORE_FIELDS.get(name)
    if spec is not None and spec.kind == "code" and isinstance(value, str) and value:
        return _code_text(codes, name, value)
    return describe(value)


def history_rows(changes: Any, codes: CodeTables) -> list[dict[str, Any]]:
    """History rows as the page shows them: who, what, and each field before and after."""
    rows = []
    for change in changes:
        if change.actor_kind == ActorKind.STAFF:
            who = change.actor_user.get_username() if change.actor_user else change.actor_label
        elif change.job_id is not None:  # the page links the job; its label only if it says more
            who = "" if change.actor_label == f"job {change.job_id}" else change.actor_label
        else:
            who = change.actor_label or ActorKind(change.actor_kind).label
        rows.append(
            {
                "change": change,
                "who": who,
                "kind": ActorKind(change.actor_kind).label,
                "fields": [
                    {
                        "label": field_label(name),
                        "before": _history_value(codes, name, values.get("before")),
                        "after": _history_value(codes, name, values.get("after")),
                    }
                    for name, values in change.changes.items()
                    if isinstance(values, dict)
                ],
            }
        )
    return rows


class PatronHistoryView(PatronQuerysetMixin, View):
    """Every change of one user, newest first, 25 a page."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        patron = self.get_patron(pk)
        page = Paginator(patron_history(patron=patron), 25).get_page(request.GET.get("page"))
        context = self.get_context_data(patron=patron, page_obj=page)
        codes = code_tables_for_institution(institution=self.institution)
        context["history"] = history_rows(page.object_list, codes)
        return render(request, "patrons/patron_history.html", context)


class PatronEditView(EditUsersRequiredMixin, PatronQuerysetMixin, View):
    """Edit a user's core fields and the segments the library owns; add Internal segments."""

    template_name = "patrons/patron_edit.html"

    def _forms(
        self, patron: Patron, codes: CodeTables, data: Any = None
    ) -> tuple[PatronForm, dict[str, NamedErrorsFormSet]]:
        form = PatronForm(data, patron=patron, codes=codes)
        formsets = {}
        for kind, (form_class, prefix) in SEGMENT_FORMS.items():
            initial = [
                {**form_class.initial_of(item), "position": n}
                for n, item in enumerate(stored_segments(patron, kind))
                if segment_editable(patron, item)
            ]
            formsets[kind] = segment_formset(kind)(
                data, initial=initial, prefix=prefix, form_kwargs={"codes": codes}
            )
        return form, formsets

    def _render(
        self,
        request: HttpRequest,
        patron: Patron,
        form: PatronForm,
        formsets: dict[str, NamedErrorsFormSet],
        status: int = 200,
        stale: str = "",
    ) -> HttpResponse:
        codes = code_tables_for_institution(institution=self.institution)
        data = patron_to_json(patron, codes=codes)
        kept = {
            "address": data["contact_info"]["address"],
            "email": data["contact_info"]["email"],
            "phone": data["contact_info"]["phone"],
            "user_identifier": data["user_identifier"],
            "user_note": data["user_note"],
        }
        sections = [
            {
                "kind": kind,
                "label": field_label(kind),
                "singular": SEGMENT_NAMES[kind],
                "formset": formsets[kind],
                "readonly": [
                    describe(item) for item in kept[kind] if not segment_editable(patron, item)
                ],
            }
            for kind in SEGMENT_FORMS
        ]
        context = self.get_context_data(
            patron=patron,
            version=patron_version(patron),
            stale=stale,
            form=form,
            sections=sections,
            protected=set(PROTECTED_FIELDS),
            external=patron.account_type == AccountType.EXTERNAL,
        )
        return render(request, self.template_name, context, status=status)

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        patron = self.get_patron(pk)
        codes = code_tables_for_institution(institution=self.institution)
        form, formsets = self._forms(patron, codes)
        return self._render(request, patron, form, formsets)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        patron = self.get_patron(pk)
        codes = code_tables_for_institution(institution=self.institution)
        seen = request.POST.get("version")
        if seen is not None and seen != patron_version(patron):
            # Saving would put back the values the page showed over what changed since (a
            # Synchronize's, say) and mark them the library's: the page shows the user anew.
            form, formsets = self._forms(patron, codes)
            stale = (
                f"User {patron.primary_id} was changed since this page was opened (by a job, "
                "the API or another member of staff), so nothing was saved. The page now shows "
                "the user as stored: make your changes again."
            )
            return self._render(request, patron, form, formsets, status=409, stale=stale)
        form, formsets = self._forms(patron, codes, request.POST)
        # Every form is validated, so that each shows its errors at once.
        valid = [form.is_valid()] + [formset.is_valid() for formset in formsets.values()]
        if not all(valid):
            return self._render(request, patron, form, formsets, status=400)
        data = edited_json(patron=patron, form=form, formsets=formsets)
        actor = Actor.staff(request.user)  # type: ignore[arg-type]
        try:
            with transaction.atomic():
                changes = patron_update(patron=patron, data=data, actor=actor, codes=codes)
                exempt = form.cleaned_data["exempt"]
                if patron_set_exempt(patron=patron, exempt=exempt, actor=actor):
                    changes = {**changes, "exempt": {"before": not exempt, "after": exempt}}
        except RuleViolation as exc:
            patron.refresh_from_db()
            _place_error(exc, form, formsets)
            return self._render(request, patron, form, formsets, status=400)
        except PatronsyncError as exc:  # not a rule of one field: said above the form
            patron.refresh_from_db()
            form.add_error(None, str(exc))
            return self._render(request, patron, form, formsets, status=400)
        if changes:
            names = ", ".join(field_label(name) for name in changes)
            messages.success(request, f"User {patron.primary_id} saved: {names} changed.")
        else:
            messages.info(request, f"User {patron.primary_id}: nothing changed.")
        return HttpResponseRedirect(reverse("patrons:detail", args=[patron.pk]))


def _place_error(
    exc: RuleViolation, form: PatronForm, formsets: dict[str, NamedErrorsFormSet]
) -> None:
    """Show a rule's error beside the field it names (Alma's message, the field's name)."""
    name = (exc.field or "").split(".")[0].split("[")[0]
    if name in form.fields:
        form.add_error(name, exc.message)
        return
    formset = formsets.get(name)
    if formset is None:
        label = field_label(name) if name else ""
        form.add_error(None, f"{label}: {exc.message}" if label else exc.message)
        return
    for segment_form in formset.forms:
        if (
            name == "user_identifier"
            and exc.value
            and segment_form.cleaned_data.get("value") == exc.value
        ):
            segment_form.add_error("value", exc.message)
            return
    formset.add_section_error(f"{field_label(name)}: {exc.message}")


class PatronRestoreView(EditUsersRequiredMixin, PatronQuerysetMixin, View):
    """Alma's Restore: a protected field the library changed takes the SIS's last value."""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        patron = self.get_patron(pk)
        form = RestoreForm(request.POST)
        detail = reverse("patrons:detail", args=[patron.pk])
        if not form.is_valid():
            messages.error(request, "Restore: say which field to restore.")
            return HttpResponseRedirect(detail)
        field = form.cleaned_data["field"]
        try:
            patron_restore(
                patron=patron,
                field=field,
                actor=Actor.staff(request.user),  # type: ignore[arg-type]
            )
        except RuleViolation as exc:
            messages.error(request, f"{field_label(field)}: {exc.message}")
            return HttpResponseRedirect(detail)
        messages.success(
            request, f"{field_label(field)} restored: it takes the SIS's value and follows the SIS."
        )
        return HttpResponseRedirect(detail)
