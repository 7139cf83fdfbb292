"""The report's trend chart: a profile's recent jobs as stacked bars, laid out for inline SVG.

Pure layout (no ORM, no HTML): the template draws the rectangles this computes, so the page
needs no JavaScript and the figures are the jobs' own counters.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from .models import Job

# Bottom to top: the small, telling counts first, so a large unchanged share does not hide them.
SERIES = (
    ("rejected", "Rejected"),
    ("created", "Created"),
    ("updated", "Updated"),
    ("unchanged", "Unchanged"),
)

WIDTH = 960
HEIGHT = 300
LEFT = 64
RIGHT = 12
TOP = 34  # room for the legend
BOTTOM = 44


@dataclass(frozen=True)
class Segment:
    series: str
    value: int
    y: float
    height: float


@dataclass(frozen=True)
class Bar:
    job: Job
    x: float
    width: float
    center: float
    when: str  # the job's start in the institution's time zone
    title: str  # the tooltip: when, and every figure
    segments: list[Segment]
    current: bool


@dataclass(frozen=True)
class Tick:
    value: int
    y: float


@dataclass(frozen=True)
class LegendItem:
    series: str
    label: str
    x: int


@dataclass(frozen=True)
class TrendChart:
    width: int
    height: int
    left: int
    top: int
    right: float  # x of the plot's right edge
    bottom: float  # y of the plot's baseline
    plot_height: float
    middle: float  # y of the plot's middle, for the vertical axis label
    bars: list[Bar]
    ticks: list[Tick]
    labels: list[Bar]  # the bars whose date is written under the axis
    series: tuple[tuple[str, str], ...]
    legend: list[LegendItem]


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 2.5, 5 or 10 times a power of ten that is at least `value`."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value:
            return max(int(step * power), 1)
    return 10 * power  # pragma: no cover - the loop always returns


def trend_chart(
    *, jobs: Sequence[Job], zone_name: str, current: Job | None = None
) -> TrendChart | None:
    """Stacked bars of `jobs` (oldest first): users rejected, created, updated and unchanged
    per job, on a linear axis from 0 with up to five whole-number ticks. None when there is no job
    to draw."""
    if not jobs:
        return None
    zone = ZoneInfo(zone_name or "UTC")
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    baseline = TOP + plot_h
    highest = max(job.total_users_processed for job in jobs)
    step = nice_ceiling(math.ceil(highest / 4))
    steps = max(1, math.ceil(highest / step))  # at most four steps above 0
    top_value = step * steps
    slot = plot_w / len(jobs)
    bar_w = max(slot * 0.7, 1.0)
    bars = []
    for index, job in enumerate(jobs):
        began = job.started_at or job.created_at
        when = began.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z") if began else ""
        x = LEFT + index * slot + (slot - bar_w) / 2
        segments = []
        y = float(baseline)
        for name, _label in SERIES:
            value = int(getattr(job, name))
            height = value / top_value * plot_h
            y -= height
            segments.append(
                Segment(series=name, value=value, y=round(y, 2), height=round(height, 2))
            )
        figures = ", ".join(f"{label.lower()} {getattr(job, name):,}" for name, label in SERIES)
        title = f"{when}, {job.get_status_display()}, Process ID {job.process_id}: {figures}"
        bars.append(
            Bar(
                job=job,
                x=round(x, 2),
                width=round(bar_w, 2),
                center=round(x + bar_w / 2, 2),
                when=when,
                title=title,
                segments=segments,
                current=current is not None and job.pk == current.pk,
            )
        )
    ticks = [
        Tick(value=step * i, y=round(baseline - plot_h * i / steps, 2)) for i in range(steps + 1)
    ]
    every = max(1, math.ceil(len(bars) / 6))  # at most about six dates under the axis
    labels = [bar for i, bar in enumerate(bars) if i % every == 0]
    return TrendChart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        top=TOP,
        right=WIDTH - RIGHT,
        bottom=baseline,
        plot_height=plot_h,
        middle=TOP + plot_h / 2,
        bars=bars,
        ticks=ticks,
        labels=labels,
        series=SERIES,
        legend=[
            LegendItem(series=name, label=label, x=LEFT + i * 110)
            for i, (name, label) in enumerate(SERIES)
        ],
    )
