"""The code-table pages (Configuration, User Management, Code tables), and adding a code a
job's feed used from that job's report.

Every role may read the tables; only a General System Administrator changes them. Rows are
written through the core services, which hold the rules (one default a table, unique codes).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView

from patronsync.accounts.views import ConfigureRequiredMixin, InstitutionRoleMixin
from patronsync.core.choices import CodeTableName
from patronsync.core.models import CodeTableEntry
from patronsync.core.selectors import code_table_summaries
from patronsync.core.services import (
    code_table_entry_add,
    code_table_entry_add_or_enable,
    code_table_entry_declare,
    code_table_entry_delete,
    code_table_entry_update,
)
from patronsync.jobs.models import Job

from .forms import CodeTableAddForm, CodeTableEditForm, UnknownCodeAddForm, service_errors_onto

# The model's names of a row's fields that the forms call otherwise.
MODEL_NAMES = {"is_default": "default"}


def _table(name: str) -> CodeTableName:
    """The code table named in the URL (Alma's name, e.g. UserGroups), or 404."""
    if name not in CodeTableName.values:
        raise Http404("No such code table")
    return CodeTableName(name)


def _detail_url(table: str, anchor: str = "") -> str:
    return reverse("web:code-table-detail", args=[table]) + (f"#{anchor}" if anchor else "")


class CodeTableListView(InstitutionRoleMixin, TemplateView):
    """Every code table of the institution, with its rows counted."""

    template_name = "web/code_table_list.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["tables"] = code_table_summaries(institution=self.institution)
        return context


class CodeTableDetailView(InstitutionRoleMixin, TemplateView):
    """One code table's rows; for a General System Administrator, the forms that change them."""

    template_name = "web/code_table_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        table = _table(self.kwargs["table"])
        context["table"] = table
        context["rows"] = CodeTableEntry.objects.filter(
            institution=self.institution, table=table
        ).order_by("position", "code")
        context.setdefault("form", CodeTableAddForm())
        return context


class CodeTableRowAddView(ConfigureRequiredMixin, CodeTableDetailView):
    """POST: add a row; the table's page again with the errors beside their fields."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, table: str) -> HttpResponse:
        name = _table(table)
        form = CodeTableAddForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                entry = code_table_entry_add(
                    institution=self.institution,
                    table=name,
                    code=data["code"],
                    description=data["description"],
                    is_default=data["default"],
                    enabled=data["enabled"],
                    position=data["position"],
                )
            except ValidationError as exc:
                service_errors_onto(form, exc, names=MODEL_NAMES)
            else:
                messages.success(request, f"Code {entry.code} added to {name.label}.")
                return HttpResponseRedirect(_detail_url(name, f"row-{entry.pk}"))
        return self.render_to_response(self.get_context_data(form=form), status=400)


class CodeTableRowMixin(ConfigureRequiredMixin):
    """A row of the table in the URL, within the current institution (another's is a 404)."""

    def row(self, table: str, pk: int) -> CodeTableEntry:
        return get_object_or_404(
            CodeTableEntry, pk=pk, institution=self.institution, table=_table(table)
        )


class CodeTableRowEditView(CodeTableRowMixin, TemplateView):
    """GET: a row's form; POST: save its description, default, enabled and position."""

    template_name = "web/code_table_row_form.html"

    def get(self, request: HttpRequest, table: str, pk: int) -> HttpResponse:  # type: ignore[override]
        entry = self.row(table, pk)
        form = CodeTableEditForm(
            initial={
                "description": entry.description,
                "default": entry.is_default,
                "enabled": entry.enabled,
                "position": entry.position,
            }
        )
        return self.render_to_response(self.get_context_data(entry=entry, form=form))

    def post(self, request: HttpRequest, table: str, pk: int) -> HttpResponse:
        entry = self.row(table, pk)
        initial = {
            "description": entry.description,
            "default": entry.is_default,
            "enabled": entry.enabled,
            "position": entry.position,
        }
        form = CodeTableEditForm(request.POST, initial=initial)
        if form.is_valid():
            if not form.has_changed():
                messages.info(request, f"Code {entry.code}: nothing changed.")
                return HttpResponseRedirect(_detail_url(table, f"row-{entry.pk}"))
            try:
                code_table_entry_update(
                    entry=entry, values=form.cleaned_data, actor=request.user.get_username()
                )
            except ValidationError as exc:
                service_errors_onto(form, exc, names=MODEL_NAMES)
            else:
                messages.success(request, f"Code {entry.code} saved.")
                return HttpResponseRedirect(_detail_url(table, f"row-{entry.pk}"))
        return self.render_to_response(self.get_context_data(entry=entry, form=form), status=400)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["table"] = _table(self.kwargs["table"])
        return context


class CodeTableRowToggleView(CodeTableRowMixin, View):
    """POST: enable a disabled row, or disable an enabled one."""

    def post(self, request: HttpRequest, table: str, pk: int) -> HttpResponse:
        entry = self.row(table, pk)
        enabled = not entry.enabled
        code_table_entry_declare(
            institution=self.institution,
            table=entry.table,
            code=entry.code,
            values={"enabled": enabled},
        )
        word = "enabled" if enabled else "disabled"
        messages.success(request, f"Code {entry.code} {word}.")
        return HttpResponseRedirect(_detail_url(table, f"row-{entry.pk}"))


class CodeTableRowDeleteView(CodeTableRowMixin, View):
    """POST: delete a row (users who hold its code keep it)."""

    def post(self, request: HttpRequest, table: str, pk: int) -> HttpResponse:
        entry = self.row(table, pk)
        code = entry.code
        code_table_entry_delete(entry=entry)
        messages.success(request, f"Code {code} deleted from {_table(table).label}.")
        return HttpResponseRedirect(_detail_url(table))


class UnknownCodeAddView(ConfigureRequiredMixin, View):
    """POST from a job's report: add a code its feed used that its table lacked (or enable
    the table's disabled row of it), then back to the report, where "Run again" loads the
    users it rejected."""

    def post(self, request: HttpRequest) -> HttpResponse:
        form = UnknownCodeAddForm(request.POST)
        job_pk = form.data.get("job", "")
        job = get_object_or_404(
            Job, pk=int(job_pk) if str(job_pk).isdigit() else 0, institution=self.institution
        )
        report = reverse("jobs:detail", args=[job.pk]) + "#unknown-codes"
        if form.is_valid():
            data = form.cleaned_data
            table = CodeTableName(data["table"])
            try:
                outcome = code_table_entry_add_or_enable(
                    institution=self.institution,
                    table=table,
                    code=data["code"],
                    description=data["description"],
                    actor=request.user.get_username(),
                )
            except ValidationError as exc:
                service_errors_onto(form, exc, names=MODEL_NAMES)
            else:
                messages.success(request, f"{table.label}: code {data['code']} {outcome}.")
                return HttpResponseRedirect(report)
        for line in form.non_field_messages():
            messages.error(request, f"The code was not added. {line}")
        return HttpResponseRedirect(report)
