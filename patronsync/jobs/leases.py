"""How long a worker's claim on a job lasts without renewal, and how often a job is tried.

A worker that claims a job holds it until `Job.lease_until` (`PATRONSYNC_JOB_LEASE_SECONDS`,
600 by default). It renews the lease with every batch it commits, at every file boundary, and
from a heartbeat thread every quarter of the lease while the job runs, so a long download or a
long batch never lets the lease of a live worker run out. Another worker may take the job over
(resume it) only once the lease has run out, whatever is known of the first worker's process.

Every claim counts a try (`Job.attempts`). A job whose workers stopped
`PATRONSYNC_JOB_MAX_ATTEMPTS` times (3 by default) is not tried again: the next worker ends it
errored, saying so in its log.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Q
from django.utils import timezone

LEASE_SETTING = "PATRONSYNC_JOB_LEASE_SECONDS"
DEFAULT_LEASE_SECONDS = 600
MAX_ATTEMPTS_SETTING = "PATRONSYNC_JOB_MAX_ATTEMPTS"
DEFAULT_MAX_ATTEMPTS = 3


class WorkerStopping(BaseException):
    """The worker was asked to stop (SIGTERM, SIGINT): the job it runs gives its lease back at
    once, its try not counted, so that the next worker resumes it from its checkpoint.

    A BaseException, as KeyboardInterrupt is: nothing that catches Exception stops it.
    """


def _whole_number(setting: str, default: int) -> int:
    raw = os.environ.get(setting, "").strip()
    if not raw:
        return default
    value = int(raw) if raw.isascii() and raw.isdigit() else 0
    if value < 1:
        raise ImproperlyConfigured(f"{setting}: expected a whole number (at least 1), got {raw!r}")
    return value


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


def heartbeat_every() -> float:
    """Seconds between two renewals by a running job's heartbeat: a quarter of the lease."""
    return lease_length().total_seconds() / 4


def max_attempts() -> int:
    """How many claims a job gets before a stale job is errored instead of tried again."""
    return _whole_number(MAX_ATTEMPTS_SETTING, DEFAULT_MAX_ATTEMPTS)


def lease_from(now: datetime | None = None) -> datetime:
    """When a lease given now runs out."""
    return (now or timezone.now()) + lease_length()


def lease_expired_q(now: datetime | None = None) -> Q:
    """The jobs whose lease has run out (or that never had one): a condition for updates."""
    return Q(lease_until__isnull=True) | Q(lease_until__lte=now or timezone.now())
