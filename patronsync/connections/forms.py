"""Forms of the connections pages: a row of the Allowed S/FTP Connections and an S/FTP
definition, with the password and the private key as write-only inputs.

The forms check what a field alone says; the rules (a server in the allowed table, a port from
1 to 65535, a local folder inside its roots, ...) are the services' and the model's, and their
ValidationErrors are put beside the fields they name (`web.forms.service_errors_onto`); every
error names its field once (`web.forms.NamedErrorsMixin`).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from patronsync.core.models import Institution
from patronsync.web.forms import NamedErrorsMixin

from .choices import FtpServerType, SizeType, TransportType
from .models import Connection
from .services import public_key_of

# The fields of a definition the form edits, in the order of Alma's "Update S/FTP connection"
# screen, patronsync's type after the description (it decides what the others mean).
CONNECTION_FIELDS = (
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
)
SECRETS = ("password", "private_key")


class AllowedConnectionForm(NamedErrorsMixin, forms.Form):
    """A new row of the Allowed S/FTP Connections (Alma's "+ Add Row")."""

    enabled = forms.BooleanField(
        label="Enabled",
        required=False,
        initial=True,
        help_text="Only enabled rows let a definition reach the server.",
    )
    host = forms.CharField(
        label="FTP Hostname / IP",
        max_length=255,
        help_text="The server's host name or IP address, e.g. sftp.example.edu or 192.0.2.10 "
        "(no scheme, port or path).",
    )
    description = forms.CharField(
        label="FTP Hostname / IP description",
        max_length=255,
        required=False,
        help_text="What the server is, e.g. Registrar's S/FTP server.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "allowed-%s")
        super().__init__(*args, **kwargs)


class SecretTextarea(forms.Textarea):
    """A textarea that never shows its value: a form redrawn for another field's error does not
    send a pasted private key back to the browser."""

    def format_value(self, value: Any) -> str:
        return ""


class ConnectionForm(NamedErrorsMixin, forms.Form):
    """An S/FTP definition (or a local folder). The password and the private key are never
    filled in: left empty they keep what is stored, given they replace it, and their "clear"
    boxes remove it."""

    name = forms.CharField(
        label="Name",
        max_length=255,
        help_text="How integration profiles name this definition; unique in the institution.",
    )
    description = forms.CharField(
        label="Description",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Optional: what the server is and who looks after it.",
    )
    transport = forms.ChoiceField(
        label="Type",
        choices=TransportType.choices,
        initial=TransportType.SFTP,
        help_text="SFTP (over SSH), FTPS (FTP with explicit TLS), FTP (in clear text: the "
        "password crosses the network unencrypted), or a local folder of this machine.",
    )
    server = forms.CharField(
        label="Server",
        max_length=255,
        required=False,
        help_text="Host name or IP address of the S/FTP server, as in the Allowed S/FTP "
        "connections table. Required for SFTP, FTPS and FTP.",
    )
    port = forms.IntegerField(
        label="Port",
        required=False,
        min_value=1,
        max_value=65535,
        help_text="Given by your IT department; left empty, 22 for SFTP and 21 for FTP and FTPS.",
    )
    sub_directory = forms.CharField(
        label="Sub-directory",
        max_length=1024,
        required=False,
        help_text="The folder the profiles' input paths are under, e.g. /upload. For a local "
        "folder: its absolute path on this machine, inside the institution's roots.",
    )
    max_files = forms.IntegerField(
        label="Max. Number of Files",
        min_value=1,
        initial=20,
        help_text="The most zip files a job takes in one run (at least 1).",
    )
    min_files = forms.IntegerField(
        label="Min. Number of Files",
        min_value=0,
        initial=1,
        help_text="The fewest files a job expects; at most the maximum.",
    )
    max_file_size = forms.IntegerField(
        label="Max. file size",
        min_value=1,
        initial=4,
        help_text="A larger file is not downloaded; in the size type below.",
    )
    size_type = forms.ChoiceField(
        label="Size type",
        choices=SizeType.choices,
        initial=SizeType.GB,
        help_text="The unit of the maximum file size.",
    )
    allow_navigation = forms.BooleanField(
        label="Allow Navigation",
        required=False,
        initial=True,
        help_text="Whether the profiles' input paths may leave the sub-directory (e.g. ../other).",
    )
    ftp_server_type = forms.ChoiceField(
        label="Ftp Server Type",
        choices=FtpServerType.choices,
        initial=FtpServerType.DEFAULT,
        help_text="How an FTP or FTPS server lists its folders; Default FTP suits most.",
    )
    passive_mode = forms.BooleanField(
        label="Passive Mode",
        required=False,
        initial=True,
        help_text="FTP and FTPS data connections opened by patronsync (through most firewalls); "
        "off uses active mode.",
    )
    username = forms.CharField(
        label="UserName",
        max_length=255,
        required=False,
        help_text="The account to log in with, from your IT department. Required for SFTP, FTPS "
        "and FTP.",
    )
    password = forms.CharField(
        label="Password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Never shown. Leave empty to keep the stored password; type one to replace it.",
    )
    clear_password = forms.BooleanField(
        label="Remove the stored password",
        required=False,
        help_text="An SFTP definition then logs in with its key pair only.",
    )
    private_key = forms.CharField(
        label="Private key (SFTP key authentication)",
        required=False,
        strip=False,
        widget=SecretTextarea(attrs={"rows": 4, "autocomplete": "off", "spellcheck": "false"}),
        help_text="Never shown. patronsync makes a key pair for every SFTP definition; paste an "
        "OpenSSH or PEM private key (without a passphrase) only to log in with a key of your "
        "own. Leave empty to keep the stored key pair.",
    )
    clear_private_key = forms.BooleanField(
        label="Remove the stored private key",
        required=False,
        help_text="An SFTP definition then gets a new key pair at once: install its new public "
        "key on the server.",
    )

    def __init__(
        self,
        *args: Any,
        institution: Institution,
        connection: Connection | None = None,
        **kwargs: Any,
    ) -> None:
        if connection is not None and "initial" not in kwargs:
            kwargs["initial"] = {name: getattr(connection, name) for name in CONNECTION_FIELDS}
        super().__init__(*args, **kwargs)
        self.institution = institution
        self.connection = connection
        if connection is None:  # nothing stored yet: nothing to remove
            del self.fields["clear_password"], self.fields["clear_private_key"]

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"].strip()
        twins = Connection.objects.filter(institution=self.institution, name=name)
        if self.connection is not None:
            twins = twins.exclude(pk=self.connection.pk)
        if twins.exists():
            raise ValidationError(f"A definition named {name!r} already exists.")
        return name

    def clean_private_key(self) -> str:
        key: str = self.cleaned_data.get("private_key") or ""
        if key.strip():
            try:
                public_key_of(key, comment="")
            except ValidationError as exc:
                raise ValidationError(exc.message_dict["private_key"]) from None
        return key

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for secret in SECRETS:
            if data.get(f"clear_{secret}") and data.get(secret):
                self.add_error(secret, "give a new one or remove the stored one, not both.")
        return data

    def values(self) -> dict[str, Any]:
        """The fields for `connection_create` or `connection_update`: a secret only when one
        was typed (to replace it) or its removal asked (then empty)."""
        data = self.cleaned_data
        values = {name: data[name] for name in CONNECTION_FIELDS}
        values["description"] = values["description"].strip()
        for secret in SECRETS:
            if data.get(secret):
                values[secret] = data[secret]
            elif data.get(f"clear_{secret}"):
                values[secret] = ""
        return values
