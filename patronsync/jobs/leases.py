"""How long a worker's claim on a job lasts without renewal (`PATRONSYNC_JOB_LEASE_SECONDS`).

A worker that claims a job holds it until `Job.lease_until`; it renews the lease with every
batch it commits and at every file boundary. Another worker may take the job over (resume it)
only once the lease has run out, whatever is known of the first worker's process.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Q
from django.utils import timezone

LEASE_SETTING = "PATRONSYNC_JOB_LEASE_SECONDS"
DEFAULT_LEASE_SECONDS = 600


def lease_length() -> timedelta:
    """The lease a claim or a renewal gives, read from the environment each time."""
    raw = os.environ.get(LEASE_SETTING, "").strip()
    if not raw:
        return timedelta(seconds=DEFAULT_LEASE_SECONDS)
    seconds = int(raw) if raw.isdigit() else 0
    if seconds < 1:
        raise ImproperlyConfigured(
            f"{LEASE_SETTING}: expected a whole number of seconds (at least 1), got {raw!r}"
        )
    return timedelta(seconds=seconds)


def lease_from(now: datetime | None = None) -> datetime:
    """When a lease given now runs out."""
    return (now or timezone.now()) + lease_length()


def lease_expired_q(now: datetime | None = None) -> Q:
    """The jobs whose lease has run out (or that never had one): a condition for updates."""
    return Q(lease_until__isnull=True) | Q(lease_until__lte=now or timezone.now())
