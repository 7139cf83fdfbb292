"""Pipeline stages of a job's file: read, parse ahead, decide and commit batch by batch.

A file's users are streamed in batches of BATCH_SIZE. A Synchronize reads and hashes in a
second process while this one matches and writes (reading is most of a daily sync's work); an
Import reads here and parses ahead in PARSE_WORKERS forked processes (parsing is most of an
import's work). The worker processes never touch the database.
"""

from __future__ import annotations

import multiprocessing
import os
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from queue import Empty
from typing import Any

from django.db import reset_queries
from django.utils import timezone

from patronsync.almaxml import Limits, RawUser, iter_raw_users
from patronsync.core.bulk import analyze
from patronsync.core.exceptions import PatronsyncError
from patronsync.jobs.choices import JobKind, RecordOutcome
from patronsync.jobs.models import Job
from patronsync.patrons.models import Patron, PatronIdentifier

from .batch import BatchProcessor, parse_records
from .context import RunContext
from .writer import write_batch

Progress = Callable[[int], None]


class JobCancelled(PatronsyncError):
    """Someone asked for the running job to stop; it stops after the batch it committed."""


BATCH_SIZE = int(os.environ.get("PATRONSYNC_BATCH_SIZE", "2000"))
# Users written between two refreshes of the planner's statistics (PostgreSQL).
ANALYZE_EVERY = 100_000
WRITTEN_OUTCOMES = (RecordOutcome.CREATED, RecordOutcome.UPDATED)
ZIP_LIMITS = Limits(max_xml_entries=50, max_total_bytes=4 * 1024**3)  # Alma's limits
# Processes that parse ahead during an Import (0: parse in-line).
PARSE_WORKERS = int(os.environ.get("PATRONSYNC_PARSE_WORKERS", "1"))
# Whether a Synchronize reads its files in a second process.
READ_AHEAD = os.environ.get("PATRONSYNC_READ_AHEAD", "true").lower() not in {"0", "false", "no"}


def _batches(items: Iterator[RawUser], size: int) -> Iterator[list[RawUser]]:
    while batch := list(islice(items, size)):
        yield batch


@contextmanager
def _parse_ahead(ctx: RunContext) -> Iterator[Any]:
    """A worker process that parses batches while this one writes, or None.

    An Import parses every record, so parsing on the second core halves its time; a Synchronize
    parses only the few users whose bytes changed, so it parses in-line. The worker is forked:
    it inherits the loaded code and settings, and never touches the database.
    """
    if ctx.kind != JobKind.IMPORT or PARSE_WORKERS < 1:
        yield None
        return
    pool = multiprocessing.get_context("fork").Pool(PARSE_WORKERS)
    try:
        yield pool
    finally:
        pool.terminate()
        pool.join()


def _read_file(path: Path, name: str, skip: int) -> Iterator[tuple[str, Any]]:
    """A file's users in batches ("batch", [RawUser...]), then ("end", file-level problems)."""
    reader = iter_raw_users(path, name=name, limits=ZIP_LIMITS)
    users = iter(reader)
    for _ in islice(users, skip):
        pass
    for batch in _batches(users, BATCH_SIZE):
        yield ("batch", batch)
    yield ("end", reader.problems)


def _read_ahead_worker(path: Path, name: str, skip: int, queue: Any) -> None:
    """The read-ahead process: read, hash and extract match values; never touch the database."""
    try:
        for item in _read_file(path, name, skip):
            queue.put(item)
    except BaseException:
        queue.put(("error", traceback.format_exc()))


def _batches_of_file(
    ctx: RunContext, path: Path, name: str, skip: int
) -> Iterator[tuple[str, Any]]:
    """The file's batches, then ("end", problems).

    A Synchronize reads and hashes in a second process while this one matches and writes (the
    reader is most of a daily sync's work); an Import keeps reading here, since its second core
    is busy parsing.
    """
    if ctx.kind == JobKind.IMPORT or not READ_AHEAD:
        yield from _read_file(path, name, skip)
        return
    mp = multiprocessing.get_context("fork")
    queue = mp.Queue(maxsize=4)
    process = mp.Process(target=_read_ahead_worker, args=(path, name, skip, queue), daemon=True)
    process.start()
    try:
        while True:
            try:
                item = queue.get(timeout=5)
            except Empty:
                if not process.is_alive():
                    raise RuntimeError(f"{name}: the reading process stopped") from None
                continue
            if item[0] == "error":
                raise RuntimeError(f"{name}: reading failed:\n{item[1]}")
            yield item
            if item[0] == "end":
                return
    finally:
        process.kill()
        process.join()


def load_file(
    ctx: RunContext, path: Path, name: str, sha256: str, skip: int, progress: Progress | None
) -> tuple[int, list[dict[str, Any]]]:
    """Stream one file's users through the batches; returns (users read, file problems)."""
    position = skip

    def commit(batch: list[RawUser], parsed: Any) -> None:
        nonlocal position
        processor = BatchProcessor(ctx, batch, parsed.get() if parsed is not None else None)
        processor.run()
        position += len(batch)
        ctx.job.heartbeat_at = timezone.now()
        write_batch(ctx, processor, {"file": sha256, "position": position})
        written_since_analyze[0] += sum(
            1 for o in processor.outcomes if o.outcome in WRITTEN_OUTCOMES
        )
        if written_since_analyze[0] >= ANALYZE_EVERY:
            analyze(Patron, PatronIdentifier)
            written_since_analyze[0] = 0
        # With DEBUG on, Django keeps every query's text (thousands of lookup values per batch):
        # forget them, as it does after each web request, so memory stays flat.
        reset_queries()
        if progress:
            progress(len(batch))
        requested_by = Job.objects.filter(pk=ctx.job.pk).values_list(
            "cancel_requested_by", flat=True
        )[0]
        if requested_by:
            raise JobCancelled(f"Cancelled by {requested_by} after {position:,} users of {name}")

    written_since_analyze = [0]
    file_problems: list[Any] = []
    with _parse_ahead(ctx) as pool:
        # Batches in flight, oldest first: each worker parses one while this process commits.
        pending: deque[tuple[list[RawUser], Any]] = deque()
        for kind, payload in _batches_of_file(ctx, path, name, skip):
            if kind == "end":
                file_problems = payload
                break
            parsed = (
                pool.apply_async(parse_records, (payload, ctx.codes, ctx.kind != JobKind.IMPORT))
                if pool
                else None
            )
            pending.append((payload, parsed))
            if len(pending) > PARSE_WORKERS or pool is None:
                commit(*pending.popleft())
        while pending:
            commit(*pending.popleft())
    if written_since_analyze[0]:
        analyze(Patron, PatronIdentifier)
    problems = [
        {"code": p.code, "message": str(p), "line": p.line, "entry": p.entry} for p in file_problems
    ]
    return position, problems
