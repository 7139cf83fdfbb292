"""Staff accounts and their memberships in institutions."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models

from patronsync.core.models import Institution

from .choices import StaffRole


class StaffUser(AbstractUser):
    """A library staff login. What it may do is decided per institution by its memberships."""

    class Meta:
        verbose_name = "staff account"


class Membership(models.Model):
    """A staff account's role in one institution; an account sees only its institutions."""

    user = models.ForeignKey(StaffUser, on_delete=models.CASCADE, related_name="memberships")
    institution = models.ForeignKey(
        Institution, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=StaffRole.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "institution"], name="one_role_per_institution")
        ]

    def __str__(self) -> str:
        return f"{self.user} is {self.get_role_display()} in {self.institution.code}"
