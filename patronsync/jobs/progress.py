"""A running job's progress as `patronsync run` shows it: a bar on a terminal, lines otherwise.

The total is the job's `users_expected`, which the runner writes as it fetches each file
(users counted by a byte scan, `almaxml.count`): it is unknown until the first file is
fetched, and grows as later files are. On a terminal the bar shows users done of the total,
the rate and the time left. Anywhere else (cron, a pipe, a log file) a plain line is printed
at each tenth of the total, and at least every 30 seconds, so that a log shows how far a job
came and how fast, without a terminal's control characters.
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import IO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from .models import Job

PLAIN_EVERY_SECONDS = 30.0
PLAIN_EVERY_FRACTION = 0.1


def duration_text(seconds: float) -> str:
    """`1 h 02 min`, `3 min 05 s`, `12 s`."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


class RateColumn(ProgressColumn):
    """Users per second, as rich measures it over the last moments."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} users/s" if speed else "", style="progress.data.speed")


class RunProgress:
    """The `progress` callback of one job's run (the engine calls it with each batch's size).

    Use it as a context manager around the run: `with RunProgress(job=job, console=c) as p:
    job_run(job=job, progress=p)`.
    """

    def __init__(self, *, job: Job, console: Console) -> None:
        self.job_id = job.pk
        self.title = job.title
        self.console = console
        self.terminal = console.is_terminal
        self.done = 0
        self.total: int | None = None
        self.started = time.monotonic()
        self.last_line_at = self.started
        self.last_tenth = 0
        self.bar: Progress | None = None
        self.task: TaskID | None = None

    def __enter__(self) -> RunProgress:
        if self.terminal:
            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                RateColumn(),
                TimeElapsedColumn(),
                TextColumn("left"),
                TimeRemainingColumn(),
                console=self.console,
            )
            self.bar.__enter__()
            self.task = self.bar.add_task("Users", total=None)
        else:
            self._line(f"{self.title}: started")
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.bar is not None:
            self.bar.__exit__(kind, error, traceback)
        elif kind is None:
            self._line(self._summary("done"))

    def __call__(self, users: int) -> None:
        self.done += users
        # The runner wrote the total when it fetched the file: one small read per batch.
        self.total = (
            Job.objects.filter(pk=self.job_id).values_list("users_expected", flat=True).first()
        )
        if self.bar is not None and self.task is not None:
            total = max(self.total, self.done) if self.total else None
            self.bar.update(self.task, completed=self.done, total=total)
            return
        now = time.monotonic()
        tenth = int(self.done * 10 // self.total) if self.total else 0
        if tenth > self.last_tenth or now - self.last_line_at >= PLAIN_EVERY_SECONDS:
            self.last_tenth = max(tenth, self.last_tenth)
            self.last_line_at = now
            self._line(self._summary("progress"))

    def _summary(self, what: str) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = self.done / elapsed
        if self.total:
            part = f"{self.done:,} of {self.total:,} users ({100 * self.done / self.total:.0f} %)"
        else:
            part = f"{self.done:,} users"
        line = f"{self.title}: {what}: {part}, {rate:,.0f} users/s"
        if what == "progress" and self.total and rate and self.total > self.done:
            line += f", about {duration_text((self.total - self.done) / rate)} left"
        if what == "done":
            line += f" in {duration_text(elapsed)}"
        return line

    def _line(self, text: str) -> None:
        stream: IO[str] = self.console.file
        print(text, file=stream, flush=True)
