"""Template helpers every page shares: times in the institution's zone, status badges."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()

# Badge colour per status value (jobs' statuses, users' statuses, enabled flags); text always
# says the same, so colour is never the only signal.
BADGE_KIND = {
    "completed": "ok",
    "completed_with_errors": "warn",
    "completed_no_files": "info",
    "running": "info",
    "pending": "info",
    "held": "warn",
    "cancelled": "warn",
    "failed": "bad",
    "errored": "bad",
    "ACTIVE": "ok",
    "INACTIVE": "bad",
    "created": "ok",
    "updated": "info",
    "unchanged": "",
    "rejected": "bad",
}


@register.filter
def in_zone(value: dt.datetime | None, institution: Any) -> str:
    """`value` in the institution's time zone as 'YYYY-MM-DD HH:MM:SS TZ'; '' for None."""
    if not value:
        return ""
    zone = ZoneInfo(getattr(institution, "time_zone", None) or "UTC")
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")


@register.simple_tag
def badge(value: str, label: str | None = None) -> SafeString:
    """A status badge: colour by value, and the label (or the value) as its text."""
    kind = BADGE_KIND.get(str(value), "")
    css = f"ps-badge ps-badge-{kind}" if kind else "ps-badge"
    return format_html('<span class="{}">{}</span>', css, label or value)
