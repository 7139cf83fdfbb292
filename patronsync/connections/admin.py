"""The Django admin of the Allowed S/FTP Connections and the S/FTP definitions.

Permissions follow patronsync's roles (`accounts.adminroles.RoleAdmin`): a General System
Administrator manages them for the institutions they administer. Writes go through the
services, so the admin keeps the rules of the API and `config apply`: the implementation rule,
the key pair of an sftp definition, the profiles' paths. The password and private key are
write-only: the form never shows them, and leaving them empty keeps them.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from patronsync.accounts.adminroles import RoleAdmin
from patronsync.profiles.services import connection_change

from .models import AllowedConnection, Connection
from .services import (
    allowed_connection_create,
    allowed_connection_update,
    connection_create,
    public_key_of,
)

ALLOWED_FIELDS = ["enabled", "host", "description"]
CONNECTION_FIELDS = [
    "name",
    "description",
    "transport",
    "server",
    "port",
    "sub_directory",
    "max_files",
    "min_files",
    "max_file_size",
    "size_type",
    "allow_navigation",
    "ftp_server_type",
    "passive_mode",
    "username",
]


def _actor(request: HttpRequest) -> str:
    return str(request.user.get_username())


@admin.register(AllowedConnection)
class AllowedConnectionAdmin(RoleAdmin):
    """Alma's Allowed S/FTP Connections (Ftp Include List) of one's institutions."""

    list_display = ["host", "enabled", "description", "institution", "updated_by", "updated_at"]
    list_filter = [("institution", admin.RelatedOnlyFieldListFilter), "enabled"]
    search_fields = ["host", "description"]
    fields = ["institution", *ALLOWED_FIELDS, "updated_by", "updated_at"]
    readonly_fields = ["updated_by", "updated_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # A row stays in its institution.
        return [*self.readonly_fields, "institution"] if obj is not None else self.readonly_fields

    def save_model(
        self, request: HttpRequest, obj: AllowedConnection, form: Any, change: bool
    ) -> None:
        values = {name: form.cleaned_data[name] for name in ALLOWED_FIELDS}
        if change:
            stored = AllowedConnection.objects.get(pk=obj.pk)
            allowed_connection_update(allowed=stored, values=values, actor=_actor(request))
            return
        created = allowed_connection_create(
            institution=obj.institution, values=values, actor=_actor(request)
        )
        obj.pk = created.pk


class SecretTextarea(forms.Textarea):
    """A textarea that never shows its value, like `PasswordInput(render_value=False)`: a form
    redrawn for another field's error does not send a pasted private key back to the browser."""

    def format_value(self, value: Any) -> str:
        return ""


class ConnectionForm(forms.ModelForm):
    """An S/FTP definition's fields, with the password and a private key as write-only inputs."""

    password = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Never shown. Leave empty to keep the stored password.",
    )
    private_key = forms.CharField(
        required=False,
        strip=False,
        widget=SecretTextarea(attrs={"rows": 4}),
        help_text="Never shown. An OpenSSH or PEM private key to log in with instead of the "
        "generated one; leave empty to keep the stored key pair.",
    )

    class Meta:
        model = Connection
        fields = ["institution", *CONNECTION_FIELDS]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The admin lists the secrets among the form's model fields: never fill them in.
        for secret in ("password", "private_key"):
            self.initial[secret] = ""

    def clean_private_key(self) -> str:
        key: str = self.cleaned_data.get("private_key") or ""
        if key.strip():
            try:
                public_key_of(key, comment="")
            except forms.ValidationError as exc:
                raise forms.ValidationError(exc.message_dict["private_key"]) from None
        return key


@admin.register(Connection)
class ConnectionAdmin(RoleAdmin):
    """S/FTP definitions (and local folders) of one's institutions, in the order of Alma's
    "Update S/FTP connection" screen, with the key pair and the pinned server key read-only."""

    form = ConnectionForm
    list_display = [
        "name",
        "transport",
        "server",
        "port",
        "server_secured_label",
        "institution",
        "updated_at",
    ]
    list_filter = [("institution", admin.RelatedOnlyFieldListFilter), "transport"]
    search_fields = ["name", "server", "description"]
    readonly_fields = [
        "server_secured_label",
        "has_password",
        "public_key",
        "host_key_fingerprint",
        "host_key_pinned_at",
        "updated_by",
        "updated_at",
    ]
    fieldsets = (
        (None, {"fields": ("institution", "name", "description", "transport")}),
        ("Server", {"fields": ("server", "port", "sub_directory")}),
        (
            "Files",
            {
                "fields": (
                    "max_files",
                    "min_files",
                    "max_file_size",
                    "size_type",
                    "allow_navigation",
                )
            },
        ),
        ("FTP", {"fields": ("ftp_server_type", "passive_mode", "server_secured_label")}),
        ("Login", {"fields": ("username", "password", "has_password", "private_key")}),
        ("Keys", {"fields": ("public_key", "host_key_fingerprint", "host_key_pinned_at")}),
        (None, {"fields": ("updated_by", "updated_at")}),
    )

    @admin.display(description="Ftp Server Secured")
    def server_secured_label(self, obj: Connection) -> str:
        return obj.server_secured_label

    @admin.display(description="Password set", boolean=True)
    def has_password(self, obj: Connection) -> bool:
        return bool(obj.password)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # A definition stays in its institution.
        return [*self.readonly_fields, "institution"] if obj is not None else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: Connection, form: Any, change: bool) -> None:
        values = {name: form.cleaned_data[name] for name in CONNECTION_FIELDS}
        for secret in ("password", "private_key"):
            if form.cleaned_data.get(secret):
                values[secret] = form.cleaned_data[secret]
        if change:
            stored = Connection.objects.get(pk=obj.pk)
            connection_change(connection=stored, values=values, actor=_actor(request))
            return
        created = connection_create(
            institution=obj.institution, values=values, actor=_actor(request)
        )
        obj.pk = created.pk
