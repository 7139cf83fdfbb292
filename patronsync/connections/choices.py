"""Choices of connections."""

from django.db import models


class TransportType(models.TextChoices):
    LOCAL = "local", "Local folder"
    SFTP = "sftp", "SFTP"
    FTP = "ftp", "FTP"


class SizeType(models.TextChoices):
    KB = "KB", "KB"
    MB = "MB", "MB"
    GB = "GB", "GB"
