"""The pages of Configuration > General > External Systems: the Allowed S/FTP connections table
and the S/FTP definitions, with a definition's key pair, its test and its server's key.

Every staff role sees them; only a General System Administrator changes anything (the POSTs
check it server-side). An htmx request (`HX-Request`) gets the piece of page it replaces; the
same POST without JavaScript redirects, or renders the whole page with the result.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView

from patronsync.accounts.choices import Action
from patronsync.accounts.views import ConfigureRequiredMixin, InstitutionRoleMixin
from patronsync.core.exceptions import PatronsyncError
from patronsync.profiles.services import connection_change
from patronsync.web.forms import service_errors_onto

from .allowed import in_implementation, server_not_allowed
from .forms import AllowedConnectionForm, ConnectionForm
from .hostkeys import host_key_trust
from .models import AllowedConnection, Connection
from .selectors import (
    allowed_connection_list,
    connection_list,
    connection_list_on_host,
    connection_list_with_allowed,
)
from .services import (
    ConnectionInUse,
    ConnectionTestResult,
    allowed_connection_create,
    allowed_connection_delete,
    allowed_connection_update,
    connection_create,
    connection_delete,
    connection_host_key_offer,
    connection_keygen,
    connection_test,
)

# A failed test's kind, in the words of the page.
FAILURE_KINDS = {
    "dns": "Unknown server name",
    "refused": "Connection refused",
    "timeout": "No answer (timeout)",
    "auth": "Login refused",
    "host_key": "Server key mismatch",
    "permission": "Permission denied",
    "missing": "Folder missing",
    "tls": "TLS failure",
    "size": "File size mismatch",
    "navigation": "Path leaves the sub-directory",
    "not_allowed": "Server not allowed",
    "configuration": "Configuration problem",
    "other": "Failure",
}
FAILURE_ADVICE = {
    "dns": "Check the server's name with your IT department.",
    "refused": "Nothing answers on this port: check the server and the port.",
    "timeout": "The server did not answer in time: a firewall may block this machine.",
    "auth": "Check the username and the password, or that the definition's public key is "
    "installed in the account's authorized_keys.",
    "host_key": "The server shows another key than the one pinned. Trust the new one only "
    "when the server's administrator confirms its fingerprint.",
    "permission": "The account may not read or rename in this folder.",
    "missing": "A profile's input path does not exist under the sub-directory.",
    "not_allowed": "Add the server to the Allowed S/FTP connections table and enable it.",
}


def _actor(request: HttpRequest) -> str:
    return request.user.get_username()


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


# Allowed S/FTP connections ------------------------------------------------------------------


class AllowedConnectionListView(InstitutionRoleMixin, TemplateView):
    """Alma's Ftp Include List, and whether the institution's definitions are held to it."""

    template_name = "connections/allowed_list.html"
    form: AllowedConnectionForm | None = None

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["rows"] = allowed_connection_list(institution=self.institution)
        context["enforced"] = in_implementation(institution=self.institution)
        if self.may(Action.CONFIGURE):
            context["form"] = self.form or AllowedConnectionForm()
        return context


class AllowedConnectionCreateView(ConfigureRequiredMixin, AllowedConnectionListView):
    """ "+ Add Row": the list page redrawn with the errors beside their fields when refused."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        form = AllowedConnectionForm(request.POST)
        if form.is_valid():
            try:
                row = allowed_connection_create(
                    institution=self.institution, values=form.cleaned_data, actor=_actor(request)
                )
            except ValidationError as exc:
                service_errors_onto(form, exc)
            else:
                messages.success(request, f"{row.host} was added to the Allowed S/FTP connections.")
                return HttpResponseRedirect(reverse("connections:allowed-list"))
        self.form = form
        return self.render_to_response(self.get_context_data(), status=400)


class AllowedConnectionEditView(ConfigureRequiredMixin, TemplateView):
    """Change a row: its host, description or enabled flag."""

    template_name = "connections/allowed_form.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        row = get_object_or_404(AllowedConnection, pk=kwargs["pk"], institution=self.institution)
        initial = {"host": row.host, "description": row.description, "enabled": row.enabled}
        context["row"] = row
        context["form"] = kwargs.get("form") or AllowedConnectionForm(initial=initial)
        return context

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        row = get_object_or_404(AllowedConnection, pk=pk, institution=self.institution)
        form = AllowedConnectionForm(request.POST)
        if form.is_valid():
            try:
                allowed_connection_update(
                    allowed=row, values=form.cleaned_data, actor=_actor(request)
                )
            except ValidationError as exc:
                service_errors_onto(form, exc)
            else:
                messages.success(request, f"{row.host} was saved.")
                return HttpResponseRedirect(reverse("connections:allowed-list"))
        return self.render_to_response(self.get_context_data(pk=pk, form=form), status=400)


class AllowedConnectionEnableView(ConfigureRequiredMixin, View):
    """Enable or disable one row (`enabled` = 1 or 0); htmx gets the row back."""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        row = get_object_or_404(AllowedConnection, pk=pk, institution=self.institution)
        wanted = request.POST.get("enabled")
        if wanted not in ("0", "1"):
            return HttpResponseBadRequest("enabled: expected 1 (enable) or 0 (disable).")
        enabled = wanted == "1"
        allowed_connection_update(allowed=row, values={"enabled": enabled}, actor=_actor(request))
        if _is_htmx(request):
            context = {"row": row, "institution": self.institution, "can_configure": True}
            return render(request, "connections/_allowed_row.html", context)
        state = "enabled" if enabled else "disabled"
        messages.success(request, f"{row.host} is {state}.")
        return HttpResponseRedirect(reverse("connections:allowed-list"))


class AllowedConnectionDeleteView(ConfigureRequiredMixin, TemplateView):
    """Remove a row, after a confirmation that names the definitions on its server."""

    template_name = "connections/allowed_confirm_delete.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        row = get_object_or_404(AllowedConnection, pk=kwargs["pk"], institution=self.institution)
        context["row"] = row
        context["enforced"] = in_implementation(institution=self.institution)
        context["definitions"] = connection_list_on_host(
            institution=self.institution, host=row.host
        )
        return context

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        row = get_object_or_404(AllowedConnection, pk=pk, institution=self.institution)
        allowed_connection_delete(allowed=row)
        messages.success(request, f"{row.host} was removed from the Allowed S/FTP connections.")
        return HttpResponseRedirect(reverse("connections:allowed-list"))


# S/FTP definitions ---------------------------------------------------------------------------


class ConnectionListView(InstitutionRoleMixin, TemplateView):
    """The S/FTP definitions: server, sub-directory, the profiles using each, its server key."""

    template_name = "connections/connection_list.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["rows"] = connection_list_with_allowed(institution=self.institution)
        return context


class ConnectionPageMixin:
    """What the create and edit pages share: the form, the definition's secrets as booleans
    (the values themselves never reach a template), the result of a test."""

    institution: Any
    request: HttpRequest

    def connections(self) -> QuerySet[Connection]:
        return connection_list(institution=self.institution)

    def page_context(
        self,
        *,
        form: ConnectionForm | None,
        connection: Connection | None,
        result: ConnectionTestResult | None = None,
        offer: str = "",
    ) -> dict[str, Any]:
        context: dict[str, Any] = {"form": form, "connection": connection}
        if connection is not None:
            context.update(
                has_password=bool(connection.password),
                has_private_key=bool(connection.private_key),
                profiles=connection.profiles.order_by("code"),
                not_allowed=server_not_allowed(connection=connection),
            )
        if result is not None:
            context.update(test_context(result, offer))
        return context


def test_context(result: ConnectionTestResult, offer: str) -> dict[str, Any]:
    return {
        "result": result,
        "offer": offer,
        "failure_label": FAILURE_KINDS.get(result.kind, result.kind),
        "failure_advice": FAILURE_ADVICE.get(result.kind, ""),
    }


class ConnectionCreateView(ConfigureRequiredMixin, ConnectionPageMixin, TemplateView):
    template_name = "connections/connection_form.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        form = kwargs.get("form") or ConnectionForm(institution=self.institution)
        context.update(self.page_context(form=form, connection=None))
        return context

    def post(self, request: HttpRequest) -> HttpResponse:
        form = ConnectionForm(request.POST, institution=self.institution)
        if form.is_valid():
            try:
                connection = connection_create(
                    institution=self.institution, values=form.values(), actor=_actor(request)
                )
            except ValidationError as exc:
                service_errors_onto(form, exc)
            else:
                messages.success(request, f"S/FTP definition {connection.name} was created.")
                return HttpResponseRedirect(reverse("connections:edit", args=[connection.pk]))
        return self.render_to_response(self.get_context_data(form=form), status=400)


class ConnectionEditView(InstitutionRoleMixin, ConnectionPageMixin, TemplateView):
    """A definition: its form for a General System Administrator, its fields read-only for the
    other roles; its public key, its server's key and the test."""

    template_name = "connections/connection_form.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        connection = kwargs.get("connection") or get_object_or_404(
            self.connections(), pk=kwargs["pk"]
        )
        form = kwargs.get("form")
        if form is None and self.may(Action.CONFIGURE):
            form = ConnectionForm(institution=self.institution, connection=connection)
        context.update(
            self.page_context(
                form=form,
                connection=connection,
                result=kwargs.get("result"),
                offer=kwargs.get("offer", ""),
            )
        )
        return context

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.may(Action.CONFIGURE):
            raise PermissionDenied("Only a General System Administrator changes definitions.")
        connection = get_object_or_404(self.connections(), pk=pk)
        form = ConnectionForm(request.POST, institution=self.institution, connection=connection)
        if form.is_valid():
            try:
                # Through the profiles' service: a change its profiles cannot keep is refused.
                connection_change(
                    connection=connection, values=form.values(), actor=_actor(request)
                )
            except ValidationError as exc:
                service_errors_onto(form, exc)
            else:
                messages.success(request, f"S/FTP definition {connection.name} was saved.")
                return HttpResponseRedirect(reverse("connections:edit", args=[connection.pk]))
        # The failed write may have left values on the object: show the stored definition.
        stored = get_object_or_404(self.connections(), pk=pk)
        context = self.get_context_data(pk=pk, connection=stored, form=form)
        return self.render_to_response(context, status=400)


class ConnectionDeleteView(ConfigureRequiredMixin, TemplateView):
    """Delete a definition no profile uses, after a confirmation."""

    template_name = "connections/connection_confirm_delete.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        connection = get_object_or_404(
            connection_list(institution=self.institution), pk=kwargs["pk"]
        )
        context["connection"] = connection
        context["profiles"] = connection.profiles.order_by("code")
        return context

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        connection = get_object_or_404(connection_list(institution=self.institution), pk=pk)
        try:
            connection_delete(connection=connection)
        except ConnectionInUse:
            codes = ", ".join(connection.profiles.order_by("code").values_list("code", flat=True))
            messages.error(
                request,
                f"S/FTP definition {connection.name} was not deleted: integration profile(s) "
                f"{codes} use it. Give them another definition first.",
            )
            return HttpResponseRedirect(reverse("connections:edit", args=[pk]))
        messages.success(request, f"S/FTP definition {connection.name} was deleted.")
        return HttpResponseRedirect(reverse("connections:list"))


class ConnectionKeygenView(ConfigureRequiredMixin, View):
    """A new key pair for an SFTP definition, once its confirmation box is ticked."""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        connection = get_object_or_404(connection_list(institution=self.institution), pk=pk)
        if request.POST.get("confirm") != "1":
            messages.error(
                request,
                "No new key pair was made: tick the box confirming that the old public key "
                "stops working.",
            )
        else:
            try:
                connection_keygen(connection=connection, actor=_actor(request))
            except PatronsyncError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(
                    request,
                    f"S/FTP definition {connection.name} has a new key pair: install its new "
                    "public key on the server and remove the old one.",
                )
        return HttpResponseRedirect(reverse("connections:edit", args=[pk]) + "#public-key")


class ConnectionTestView(ConfigureRequiredMixin, ConnectionPageMixin, TemplateView):
    """Test connection: log in and count each profile's zip files; the result box for htmx,
    the definition's page with the result in it otherwise."""

    template_name = "connections/connection_form.html"
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        connection = get_object_or_404(self.connections(), pk=pk)
        result = connection_test(connection=connection)
        offer = connection_host_key_offer(connection=connection, result=result)
        if _is_htmx(request):
            context = {
                "connection": connection,
                "institution": self.institution,
                "can_configure": True,
                "oob": True,  # the page's server key too, pinned by a first success
                **test_context(result, offer),
            }
            return render(request, "connections/_test_result.html", context)
        context = self.get_context_data()
        form = ConnectionForm(institution=self.institution, connection=connection)
        context.update(
            self.page_context(form=form, connection=connection, result=result, offer=offer)
        )
        return self.render_to_response(context)


class ConnectionTrustView(ConfigureRequiredMixin, View):
    """Pin the server key whose fingerprint the page showed, if the server still shows it."""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        connection = get_object_or_404(connection_list(institution=self.institution), pk=pk)
        fingerprint = request.POST.get("fingerprint", "")
        ok, text = True, ""
        if not connection.is_remote:
            ok, text = False, f"{connection.name} is a local folder: it has no server key."
        else:
            try:
                pinned = host_key_trust(connection=connection, fingerprint=fingerprint)
            except PatronsyncError as exc:
                ok, text = False, str(exc)
            else:
                text = f"The server key {pinned} of {connection.name} is trusted (pinned)."
        if _is_htmx(request):
            context = {
                "connection": connection,
                "institution": self.institution,
                "trust_ok": ok,
                "trust_text": text,
                "oob": True,
            }
            return render(request, "connections/_trust_result.html", context)
        (messages.success if ok else messages.error)(request, text)
        return HttpResponseRedirect(reverse("connections:edit", args=[pk]) + "#host-key")
