"""Template helpers of the job pages: durations in words."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def seconds(value: float | int | None) -> str:
    """A duration in seconds as words: '0.4 s', '12 s', '4 min 05 s', '2 h 03 min'; '' for
    None (not started, or not known)."""
    if value is None:
        return ""
    value = max(float(value), 0.0)
    if value < 10:
        return f"{value:.1f} s".replace(".0 s", " s")
    whole = round(value)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"
