"""S/FTP definitions: where an integration profile fetches its files."""

from __future__ import annotations

import ipaddress
import re

from django.core.exceptions import ValidationError
from django.db import models

from patronsync.core.crypto import EncryptedTextField
from patronsync.core.models import Institution

from .allowed import host_normalize, server_not_allowed
from .choices import (
    DEFAULT_PORTS,
    REMOTE_TRANSPORTS,
    SERVER_SECURED,
    FtpServerType,
    SizeType,
    TransportType,
)
from .roots import local_folder_problem

_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$", re.IGNORECASE)


def host_problem(host: str) -> str | None:
    """Why `host` is neither a host name nor an IP address, or None."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return None
    labels = host.rstrip(".").split(".")
    if len(host) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        return (
            f"{host!r} is not a host name or an IP address; expected e.g. sftp.example.edu "
            "or 192.0.2.10 (letters, digits, hyphens and dots, no scheme, port or path)"
        )
    return None


def _integer(value: object) -> int | None:
    """`value` when it is an integer (a field's own check turned "22" into 22), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class AllowedConnection(models.Model):
    """A row of Alma's "Allowed S/FTP Connections" table (the Ftp Include List): a server an
    institution in implementation may reach (PATRONSYNC_IN_IMPLEMENTATION)."""

    institution = models.ForeignKey(
        Institution, on_delete=models.CASCADE, related_name="allowed_connections"
    )
    host = models.CharField("FTP hostname / IP", max_length=255)
    description = models.CharField("FTP hostname / IP description", max_length=255, blank=True)
    enabled = models.BooleanField(default=True)
    updated_by = models.CharField(max_length=255, blank=True)
    updated_at = models.DateTimeField("last updated", auto_now=True)

    class Meta:
        ordering = ["host"]
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "host"], name="allowed_connection_unique_per_institution"
            )
        ]

    def __str__(self) -> str:
        return self.host

    def clean(self) -> None:
        """The host is stored normalized (lower case, no trailing dot), so that the table
        compares hosts case-insensitively; it is a host name or an IP address."""
        super().clean()
        self.host = host_normalize(self.host)
        if not self.host:
            raise ValidationError({"host": "An FTP hostname or IP address is required."})
        problem = host_problem(self.host)
        if problem:
            raise ValidationError({"host": problem})
        if self.institution_id is not None:
            twins = AllowedConnection.objects.filter(
                institution_id=self.institution_id, host=self.host
            ).exclude(pk=self.pk)
            if twins.exists():
                raise ValidationError({"host": f"{self.host} is already in the table."})


class Connection(models.Model):
    """An S/FTP definition as on Alma's screen, plus the `local` folder transport.

    For `local`, `sub_directory` is the folder on this machine: an absolute path inside the
    institution's roots (PATRONSYNC_LOCAL_ROOTS, see `connections.roots`), checked by `clean()`
    and again by the transport at run time. Password and private key are encrypted at rest and
    never rendered.
    """

    institution = models.ForeignKey(
        Institution, on_delete=models.CASCADE, related_name="connections"
    )
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    transport = models.CharField(
        max_length=10, choices=TransportType.choices, default=TransportType.LOCAL
    )
    server = models.CharField(max_length=255, blank=True)
    port = models.PositiveIntegerField(null=True, blank=True)
    sub_directory = models.CharField(max_length=1024, blank=True)
    min_files = models.PositiveIntegerField(default=1)
    max_files = models.PositiveIntegerField(default=20)
    max_file_size = models.PositiveIntegerField(default=4)
    size_type = models.CharField(max_length=2, choices=SizeType.choices, default=SizeType.GB)
    allow_navigation = models.BooleanField(default=True)
    passive_mode = models.BooleanField(default=True)
    ftp_server_type = models.CharField(
        max_length=10, choices=FtpServerType.choices, default=FtpServerType.DEFAULT
    )
    username = models.CharField(max_length=255, blank=True)
    password = EncryptedTextField(blank=True, default="")
    # The definition's own Ed25519 key pair for SFTP logins: the private key (OpenSSH format)
    # encrypted, the public key ("ssh-ed25519 AAAA... comment") to install on the server.
    private_key = EncryptedTextField(blank=True, default="")
    public_key = models.TextField(blank=True)
    # The server's key, pinned at the first successful connection: its fingerprint as OpenSSH
    # prints it ("SHA256:..."), or the sha256 of an FTPS server's certificate.
    host_key_fingerprint = models.CharField(max_length=255, blank=True)
    host_key_pinned_at = models.DateTimeField(null=True, blank=True)
    updated_by = models.CharField(max_length=255, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "name"], name="connection_name_unique_per_institution"
            )
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """The rules of a definition that its fields alone do not say:

        - a local connection's folder lies inside its institution's roots;
        - a remote one has a server (a host name or an IP address), a port from 1 to 65535
          (22 for sftp, 21 for ftp and ftps when none is given) and a username;
        - while the institution is in implementation, the server is an enabled row of its
          Allowed S/FTP Connections (`allowed.server_not_allowed`);
        - at least one file per run, no more files at least than at most, a size limit over 0.
        """
        super().clean()
        errors: dict[str, str] = {}
        if self.transport == TransportType.LOCAL and self.institution_id is not None:
            problem = local_folder_problem(institution=self.institution, folder=self.sub_directory)
            if problem:
                errors["sub_directory"] = problem
        if self.is_remote:
            errors.update(self._remote_errors())
        # A value its field refused (`port: abc`) is left as it came: that field's own error is
        # reported, and no rule here compares it.
        max_files = _integer(self.max_files)
        if max_files is not None and max_files < 1:
            errors["max_files"] = "The maximum number of files is at least 1."
        elif (
            _integer(self.min_files) is not None
            and max_files is not None
            and self.min_files > max_files
        ):
            errors["min_files"] = (
                f"The minimum number of files ({self.min_files}) is more than the maximum "
                f"({self.max_files})."
            )
        max_file_size = _integer(self.max_file_size)
        if max_file_size is not None and max_file_size < 1:
            errors["max_file_size"] = "The maximum file size is more than 0."
        if errors:
            raise ValidationError(errors)

    def _remote_errors(self) -> dict[str, str]:
        errors = {}
        kind = self.get_transport_display()
        self.server = (self.server or "").strip()
        self.username = (self.username or "").strip()
        if self.port is None:
            self.port = DEFAULT_PORTS[self.transport]
        if not self.server:
            errors["server"] = f"An {kind} definition needs a server (host name or IP address)."
        else:
            problem = host_problem(self.server) or server_not_allowed(connection=self)
            if problem:
                errors["server"] = problem
        port = _integer(self.port)
        if port is not None and not 1 <= port <= 65535:
            errors["port"] = f"Port {self.port} is not a port number; expected 1 to 65535."
        if not self.username:
            errors["username"] = f"An {kind} definition needs the username to log in with."
        return errors

    @property
    def is_remote(self) -> bool:
        return self.transport in REMOTE_TRANSPORTS

    @property
    def server_secured(self) -> str:
        """Alma's "Ftp Server Secured": SFTP, FTPS, or "" (none) for FTP and local folders."""
        return SERVER_SECURED.get(self.transport, "")

    @property
    def server_secured_label(self) -> str:
        return self.server_secured or "None"

    @property
    def ftp_server_type_label(self) -> str:
        """Alma's "Ftp Server Type" as its screen shows it ("Default FTP", "Unix", "Windows")."""
        return str(self.get_ftp_server_type_display())

    @property
    def max_file_bytes(self) -> int:
        return self.max_file_size * {"KB": 1024, "MB": 1024**2, "GB": 1024**3}[self.size_type]
