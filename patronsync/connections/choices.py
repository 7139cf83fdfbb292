"""Choices of connections."""

from django.db import models


class TransportType(models.TextChoices):
    LOCAL = "local", "Local folder"
    SFTP = "sftp", "SFTP"
    FTPS = "ftps", "FTPS"
    FTP = "ftp", "FTP"


REMOTE_TRANSPORTS = (TransportType.SFTP, TransportType.FTPS, TransportType.FTP)


class FtpServerType(models.TextChoices):
    """Alma's "Ftp Server Type": how the server lists its folders."""

    DEFAULT = "DEFAULT", "Default FTP"
    UNIX = "UNIX", "Unix"
    WINDOWS = "WINDOWS", "Windows"


class SizeType(models.TextChoices):
    KB = "KB", "KB"
    MB = "MB", "MB"
    GB = "GB", "GB"
