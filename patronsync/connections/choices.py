"""Choices of connections."""

from django.db import models


class TransportType(models.TextChoices):
    LOCAL = "local", "Local folder"
    SFTP = "sftp", "SFTP"
    FTPS = "ftps", "FTPS"
    FTP = "ftp", "FTP"


REMOTE_TRANSPORTS = (TransportType.SFTP, TransportType.FTPS, TransportType.FTP)
# The port a remote definition takes when none is given, as Alma fills it in.
DEFAULT_PORTS: dict[str, int] = {
    TransportType.SFTP: 22,
    TransportType.FTPS: 21,
    TransportType.FTP: 21,
}
# Alma's "Ftp Server Secured" of each transport: SFTP, FTPS, or none for plain FTP.
SERVER_SECURED: dict[str, str] = {TransportType.SFTP: "SFTP", TransportType.FTPS: "FTPS"}


class FtpServerType(models.TextChoices):
    """Alma's "Ftp Server Type": how the server lists its folders."""

    DEFAULT = "DEFAULT", "Default FTP"
    UNIX = "UNIX", "Unix"
    WINDOWS = "WINDOWS", "Windows"


class SizeType(models.TextChoices):
    KB = "KB", "KB"
    MB = "MB", "MB"
    GB = "GB", "GB"
