"""Each API key's own rate limit (patronsync's extra to Alma's thresholds): token buckets.

A key allows `rate_limit_per_minute` calls a minute and `rate_limit_per_hour` an hour (0: no
limit). Each is a bucket of that many tokens, refilled continuously at that rate: a quiet key
may make a burst of N calls, then N a minute. A counter per fixed window let a key of 300 a
minute make 600 calls in a few seconds across a minute boundary; a bucket lets it make at most
300 plus five a second.

The bucket row is taken from with one conditional UPDATE (refill, check, take), atomic on
SQLite and on PostgreSQL, so every web process shares it and none can pass the limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.db.models import F, FloatField, Value
from django.db.models.functions import Greatest, Least
from django.db.models.lookups import GreaterThanOrEqual
from django.utils import timezone

from patronsync.accounts.models import ApiKey

from .models import ApiKeyBucket

# (period in seconds, the key's field with its calls per period)
KEY_PERIODS = ((60, "rate_limit_per_minute"), (3600, "rate_limit_per_hour"))


@dataclass(frozen=True, slots=True)
class KeyRateCheck:
    """The outcome of one call against its key's limits: taken, or the seconds to wait."""

    allowed: bool
    retry_after: int


def _level(*, now: float, capacity: int, rate: float) -> Least:
    """The bucket's tokens at `now`: its level at `refilled_at` plus what has dripped in since,
    at most `capacity` (a clock that went back drips nothing)."""
    elapsed = Greatest(Value(now, FloatField()) - F("refilled_at"), Value(0.0, FloatField()))
    return Least(F("tokens") + elapsed * Value(rate, FloatField()), Value(float(capacity)))


def _take(*, api_key: ApiKey, period: int, capacity: int, now: float) -> int:
    """Take one token from the key's bucket for `period`; return 0 when taken, else the
    whole seconds until a token is there. The bucket starts full on the key's first call."""
    rate = capacity / period
    level = _level(now=now, capacity=capacity, rate=rate)
    bucket = ApiKeyBucket.objects.filter(key=api_key, period=period)
    for _attempt in range(2):
        taken = bucket.filter(GreaterThanOrEqual(level, 1.0)).update(
            tokens=level - Value(1.0, FloatField()),
            refilled_at=Greatest(F("refilled_at"), Value(now, FloatField())),
        )
        if taken:
            return 0
        state = bucket.values_list("tokens", "refilled_at").first()
        if state is not None:
            tokens, refilled_at = state
            current = min(float(capacity), tokens + max(now - refilled_at, 0.0) * rate)
            return max(math.ceil((1.0 - current) / rate), 1)
        # No bucket yet: create it full (another process may just have), then take from it.
        ApiKeyBucket.objects.bulk_create(
            [ApiKeyBucket(key=api_key, period=period, tokens=capacity, refilled_at=now)],
            ignore_conflicts=True,
        )
    return 1  # not reached: a bucket exists after the first pass


def _give_back(*, api_key: ApiKey, period: int, capacity: int) -> None:
    """Return the token a call took from one bucket when another bucket refused it."""
    ApiKeyBucket.objects.filter(key=api_key, period=period).update(
        tokens=Least(F("tokens") + Value(1.0, FloatField()), Value(float(capacity)))
    )


def api_key_rate_take(*, api_key: ApiKey) -> KeyRateCheck:
    """Count one call against the key's minute and hour buckets; say whether it may run.

    A refused call takes nothing (a client that waits Retry-After then succeeds). When the call
    runs, the key's `last_used_at` is set.
    """
    now = timezone.now()
    moment = now.timestamp()
    taken: list[tuple[int, int]] = []
    for period, limit_field in KEY_PERIODS:
        capacity: int = getattr(api_key, limit_field)
        if not capacity:
            continue
        wait = _take(api_key=api_key, period=period, capacity=capacity, now=moment)
        if wait:
            for done_period, done_capacity in taken:
                _give_back(api_key=api_key, period=done_period, capacity=done_capacity)
            return KeyRateCheck(allowed=False, retry_after=wait)
        taken.append((period, capacity))
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
    return KeyRateCheck(allowed=True, retry_after=0)
