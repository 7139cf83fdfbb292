"""User pages: search, and a user's full record with its sources and history."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.views.generic import DetailView, ListView

from patronsync.accounts.views import InstitutionRoleMixin
from patronsync.core.selectors import code_tables_for_institution

from .fields import PROTECTED_FIELDS
from .models import Patron, identifier_key
from .selectors import patron_history, patron_to_json


class PatronListView(InstitutionRoleMixin, ListView):
    template_name = "patrons/patron_list.html"
    paginate_by = 50

    def get_queryset(self) -> QuerySet[Patron]:
        patrons = Patron.objects.filter(institution=self.institution)
        query = (self.request.GET.get("q") or "").strip()
        if query:
            patrons = patrons.filter(
                Q(identifiers__value_key=identifier_key(query))
                | Q(last_name__istartswith=query)
                | Q(first_name__istartswith=query)
            ).distinct()
        return patrons

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["q"] = self.request.GET.get("q", "")
        return context


class PatronDetailView(InstitutionRoleMixin, DetailView):
    template_name = "patrons/patron_detail.html"
    context_object_name = "patron"

    def get_queryset(self) -> QuerySet[Patron]:
        return Patron.objects.filter(institution=self.institution)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        patron: Patron = self.object
        codes = code_tables_for_institution(institution=self.institution)
        context["user_json"] = patron_to_json(patron, codes=codes)
        context["protected"] = [
            (name, patron.is_manually_changed(name)) for name in PROTECTED_FIELDS
        ]
        context["history"] = patron_history(patron=patron)[:100]
        return context
