"""Telling people when a job ends: an email to the profile's subscribers, and webhooks.

`notify_job_end` is the runner's job-end hook (settings.JOB_END_HOOKS): it runs after the job's
final status is committed, in the worker that ran it, and never changes the job. Each email and
each webhook is tried on its own; a failure is logged (and, for a webhook, recorded in its
`WebhookDelivery` rows) and the next one is still tried.

A webhook is Alma's "Job end" webhook: a POST of the job's summary as JSON, signed with
HMAC-SHA256 over the exact bytes of the body (`X-Patronsync-Signature: sha256=<hex>`), with the
time of sending in `X-Patronsync-Timestamp` (and in the body, which the signature covers).
It is tried PATRONSYNC_WEBHOOK_TRIES times, waiting PATRONSYNC_WEBHOOK_BACKOFF_SECONDS, then
twice that, and so on, between tries; every try is logged.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import time
import urllib.error
import urllib.request
import uuid
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.utils import timezone

from patronsync.core.models import Institution
from patronsync.jobs.models import Job
from patronsync.profiles.services import subscriber_addresses

from .choices import ATTENTION_STATUSES, JobEndEvent
from .models import Webhook, WebhookDelivery

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Patronsync-Signature"
TIMESTAMP_HEADER = "X-Patronsync-Timestamp"
EVENT_HEADER = "X-Patronsync-Event"
DELIVERY_HEADER = "X-Patronsync-Delivery"
EVENT = "JOB_END"
USER_AGENT = "patronsync-webhook/1"
ERROR_CHARS = 500  # of a failed delivery's reason, as logged in WebhookDelivery


# The summary -----------------------------------------------------------------------------------


def job_report_url(*, job: Job) -> str:
    """The job's report page, at the address users reach this server by (PATRONSYNC_BASE_URL)."""
    return f"{settings.PATRONSYNC_BASE_URL}/jobs/{job.pk}/"


def job_summary(*, job: Job) -> dict[str, Any]:
    """What a job-end webhook sends: the job, its status, counters, times and report URL."""
    return {
        "job_id": job.pk,
        "process_id": job.process_id,
        "title": job.title,
        "institution": job.institution.code,
        "profile": job.profile.code,
        "kind": job.kind,
        "trigger": job.trigger,
        "dry_run": job.dry_run,
        "status": job.status,
        "status_label": job.get_status_display(),
        "started": job.started_at.isoformat() if job.started_at else None,
        "finished": job.finished_at.isoformat() if job.finished_at else None,
        "counters": {
            "total_records_processed": job.total_records_processed,
            "total_users_processed": job.total_users_processed,
            "created": job.created,
            "updated": job.updated,
            "unchanged": job.unchanged,
            "rejected": job.rejected,
        },
        "report_url": job_report_url(job=job),
        "api_url": f"{settings.PATRONSYNC_BASE_URL}/api/v1/jobs/{job.pk}",
    }


# The hook --------------------------------------------------------------------------------------


def notify_job_end(*, job: Job) -> None:
    """Email the profile's subscribers when the job needs them, and send the webhooks that want
    its status. Never raises: what fails is logged with the job id."""
    try:
        subscribers_notify(job=job)
    except Exception:
        logger.exception("job %s: the email to the profile's subscribers failed", job.pk)
    webhooks = Webhook.objects.filter(institution_id=job.institution_id, active=True)
    for webhook in webhooks:
        if not webhook.wants(job.status):
            continue
        try:
            webhook_deliver(webhook=webhook, job=job)
        except Exception:
            logger.exception("job %s: webhook %s failed", job.pk, webhook.pk)


# Email -----------------------------------------------------------------------------------------


def subscribers_notify(*, job: Job) -> int:
    """Email the profile's subscribers when the job completed with rejections or errors, failed,
    errored or was held; returns how many were emailed (0 for any other end)."""
    if job.status not in ATTENTION_STATUSES:
        return 0
    recipients = subscriber_addresses(job.profile.subscribers)
    if not recipients:
        return 0
    subject, body = _email(job)
    sent = send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
    logger.info("job %s: %s told to %s subscribers", job.pk, job.status, len(recipients))
    return len(recipients) if sent else 0


def _email(job: Job) -> tuple[str, str]:
    label = job.get_status_display()
    subject = f"[patronsync] {job.title}: {label}"
    lines = [
        f"{job.title} (Process ID {job.process_id}) ended: {label}.",
        "",
        f"Started:  {job.started_at:%Y-%m-%d %H:%M:%S %Z}" if job.started_at else "Not started",
        f"Finished: {job.finished_at:%Y-%m-%d %H:%M:%S %Z}" if job.finished_at else "",
        "",
        f"Total records processed: {job.total_records_processed:,}",
        f"Users created: {job.created:,}",
        f"Users updated: {job.updated:,}",
        f"Users unchanged: {job.unchanged:,}",
        f"Users rejected: {job.rejected:,}",
        "",
        f"The report: {job_report_url(job=job)}",
        f"Or: patronsync report {job.process_id}",
    ]
    if job.status in (JobEndEvent.FAILED, JobEndEvent.ERRORED, JobEndEvent.HELD):
        # The end of the job's log says why (a failure's reason; an error's traceback).
        tail = job.log.splitlines()[-15:]
        lines += ["", "The end of the job's log:", *(f"  {line}" for line in tail)]
    return subject, "\n".join(lines) + "\n"


# Webhooks --------------------------------------------------------------------------------------


def _is_loopback(host: str) -> bool:
    if host.lower() in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def webhook_url_check(url: str) -> None:
    """Raise a ValidationError unless `url` is https://, or http:// to this machine's loopback
    address (or anywhere when PATRONSYNC_WEBHOOK_ALLOW_HTTP is true)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname:
        if _is_loopback(parts.hostname) or settings.WEBHOOK_ALLOW_HTTP:
            return
        raise ValidationError(
            f"{url!r}: a webhook is sent over HTTPS; plain http:// is accepted only to this "
            "machine (localhost, 127.0.0.1, ::1), or when PATRONSYNC_WEBHOOK_ALLOW_HTTP is true"
        )
    raise ValidationError(f"{url!r} is not an https:// URL")


def webhook_events_check(events: list[str]) -> None:
    unknown = [event for event in events if event not in JobEndEvent.values]
    if unknown:
        raise ValidationError(
            f"Unknown job end {', '.join(map(repr, unknown))}; expected some of: "
            f"{', '.join(JobEndEvent.values)} (none: every end)"
        )


def webhook_create(
    *,
    institution: Institution,
    url: str,
    secret: str = "",
    events: list[str] | None = None,
    actor: str = "",
) -> tuple[Webhook, str]:
    """Create a webhook of `institution`; returns it and its secret (made when not given, to be
    shown once: it is stored encrypted and never shown again)."""
    webhook_url_check(url)
    webhook_events_check(list(events or []))
    secret = secret or secrets.token_urlsafe(32)
    webhook = Webhook(
        institution=institution, url=url, secret=secret, events=list(events or []),
        updated_by=actor,
    )  # fmt: skip
    webhook.full_clean()
    webhook.save()
    return webhook, secret


def signature(*, secret: str, body: bytes) -> str:
    """The value of the signature header: `sha256=` and the HMAC-SHA256 of `body`, in hex."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not a place to send the job to: it is logged as a failure."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def webhook_deliver(*, webhook: Webhook, job: Job) -> WebhookDelivery:
    """POST the job's summary to the webhook, trying again with a growing wait until it answers
    2xx or the tries run out; each try is a `WebhookDelivery` row. Returns the last one."""
    webhook_url_check(webhook.url)  # the setting may have changed since it was saved
    now = timezone.now()
    delivery_id = str(uuid.uuid4())
    payload = {
        "action": EVENT,
        "id": delivery_id,
        "time": now.isoformat(),
        "job": job_summary(job=job),
    }
    body = json.dumps(payload, sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: signature(secret=str(webhook.secret), body=body),
        TIMESTAMP_HEADER: str(int(now.timestamp())),
        EVENT_HEADER: EVENT,
        DELIVERY_HEADER: delivery_id,
    }
    tries = settings.WEBHOOK_TRIES
    wait = settings.WEBHOOK_BACKOFF_SECONDS
    delivery = None
    for attempt in range(1, tries + 1):
        status_code, error = _post(webhook.url, body, headers)
        delivery = WebhookDelivery.objects.create(
            webhook=webhook, job=job, event=job.status, attempt=attempt,
            status_code=status_code, error=error[:ERROR_CHARS],
        )  # fmt: skip
        if delivery.delivered:
            logger.info("job %s: webhook %s answered %s", job.pk, webhook.pk, status_code)
            return delivery
        logger.warning(
            "job %s: webhook %s, try %s of %s: %s",
            job.pk, webhook.pk, attempt, tries, error or f"answered {status_code}",
        )  # fmt: skip
        if attempt < tries:
            time.sleep(wait)
            wait *= 2
    assert delivery is not None
    return delivery


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str]:
    """The status code of the answer, and why a try failed ("" when it answered 2xx)."""
    # The scheme is checked first (webhook_url_check): https, or http to loopback.
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with _OPENER.open(request, timeout=settings.WEBHOOK_TIMEOUT) as response:
            response.read(64 * 1024)
            return response.status, ""
    except urllib.error.HTTPError as exc:
        return exc.code, f"answered {exc.code} {exc.reason}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return None, f"not delivered: {reason}"
