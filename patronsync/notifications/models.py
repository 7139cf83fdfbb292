"""Webhooks told when a job ends (Alma's "Job end" webhook), and the log of their deliveries."""

from __future__ import annotations

from django.db import models

from patronsync.core.crypto import EncryptedTextField
from patronsync.core.models import Institution
from patronsync.jobs.models import Job


class Webhook(models.Model):
    """A URL that gets an HTTPS POST of a job's summary when a job of the institution ends.

    The body is signed with HMAC-SHA256 under `secret` (header `X-Patronsync-Signature:
    sha256=<hex>`), so the receiver knows it comes from this server. The secret is stored
    encrypted and never shown back. `events` lists the final statuses it is sent for (empty:
    every end). Plain http:// is accepted only for this machine's loopback address, unless
    PATRONSYNC_WEBHOOK_ALLOW_HTTP allows it (`services.webhook_url_check`).
    """

    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="+")
    url = models.URLField(max_length=2000)
    secret = EncryptedTextField()
    events = models.JSONField(
        default=list,
        blank=True,
        help_text="Final job statuses to send it for (completed, completed_with_errors, "
        "failed, errored, cancelled, held); empty: every job end.",
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_by = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["institution", "id"]

    def __str__(self) -> str:
        return self.url

    def wants(self, status: str) -> bool:
        return self.active and (not self.events or status in self.events)


class WebhookDelivery(models.Model):
    """One attempt to deliver a job's end to a webhook: its answer, or why it failed."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    job = models.ForeignKey(Job, on_delete=models.SET_NULL, null=True, related_name="+")
    event = models.CharField(max_length=24)
    attempt = models.PositiveSmallIntegerField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-sent_at", "-id"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.webhook} #{self.attempt}: {self.status_code or self.error[:40]}"

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
