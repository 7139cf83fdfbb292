"""S/FTP definitions: where an integration profile fetches its files."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

from patronsync.core.crypto import EncryptedTextField
from patronsync.core.models import Institution

from .choices import FtpServerType, SizeType, TransportType
from .roots import local_folder_problem


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
        """A local connection's folder lies inside its institution's roots."""
        super().clean()
        if self.transport == TransportType.LOCAL and self.institution_id is not None:
            problem = local_folder_problem(institution=self.institution, folder=self.sub_directory)
            if problem:
                raise ValidationError({"sub_directory": problem})

    @property
    def max_file_bytes(self) -> int:
        return self.max_file_size * {"KB": 1024, "MB": 1024**2, "GB": 1024**3}[self.size_type]
