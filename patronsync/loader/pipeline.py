"""Pipeline stages of a job's file: read ahead, decide and commit batch by batch.

A file's users are streamed in batches of BATCH_SIZE. A second process reads the file while
this one matches and writes: it hashes every user and reads its match values. For an Import,
which creates every user it reads, it also decodes each user into the store's checked form
(`plain.decode_plain`, the reference path for the unusual ones). For a Synchronize it parses
only users whose bytes are not among the hashes stored before (`RunContext.known`), reading
the others' match values straight off their bytes, and marks each record whose bytes are the
stored bytes of the user holding its match value (`RawUser.known_patron`), which this process
then matches without a query; this process parses only the users whose bytes changed. The
reading process never touches the database, and it dies with the process that forked it: a
job killed with SIGKILL leaves no reader behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import multiprocessing
import os
import pickle
import signal
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import reset_queries

from patronsync.almaxml import Limits, Problem, RawUser, iter_raw_users
from patronsync.core.bulk import analyze
from patronsync.core.exceptions import PatronsyncError
from patronsync.core.selectors import CodeTables
from patronsync.core.text import REASON_CHARS, bounded
from patronsync.patrons.fields import PRIMARY_ID_TYPE
from patronsync.patrons.models import Patron, PatronIdentifier, identifier_key
from patronsync.patrons.selectors import patron_raw_hashes, patron_raw_hashes_with_match

from .batch import BatchProcessor, ParseResult, match_value, parse_record
from .choices import JobKind, RecordOutcome
from .context import RunContext
from .plain import NotPlain, decode_plain
from .state import KeptUsers, KnownHashes, match_key
from .wire import pack, unpack
from .writer import write_batch

Progress = Callable[[int], None]


class JobCancelled(PatronsyncError):
    """Someone asked for the running job to stop; it stops after the batch it committed."""


BATCH_SIZE: int = settings.PATRONSYNC_BATCH_SIZE
# Users written between two refreshes of the planner's statistics (PostgreSQL).
ANALYZE_EVERY = 100_000
WRITTEN_OUTCOMES = (RecordOutcome.CREATED, RecordOutcome.UPDATED)
ZIP_LIMITS = Limits(max_xml_entries=50, max_total_bytes=4 * 1024**3)  # Alma's limits
# Whether files are read in a second process (off: read in the job's own process).
READ_AHEAD: bool = settings.PATRONSYNC_READ_AHEAD


def _plain_decoder(codes: CodeTables, skip: int) -> Callable[[Any], Any]:
    """The reader's hook for an Import: each element's checked data, or None when not plain.

    The first `skip` users (committed before a resume) are not decoded.
    """
    left = skip

    def decode(elem: Any) -> Any:
        nonlocal left
        if left:
            left -= 1
            return None
        try:
            return ParseResult(decode_plain(elem, codes))
        except NotPlain:
            return None

    return decode


def _read_file(ctx: RunContext, path: Path, name: str, skip: int) -> Iterator[Any]:
    """A file's batches ("batch", (users, None or, for an Import, each user's checked data)),
    then ("end", file-level problems)."""
    parse = ctx.kind == JobKind.IMPORT
    decode = _plain_decoder(ctx.codes, skip) if parse else None
    reader = iter_raw_users(path, name=name, limits=ZIP_LIMITS, decode=decode, known=ctx.known)
    users = iter(reader)
    for _ in islice(users, skip):
        pass
    while batch := list(islice(users, BATCH_SIZE)):
        if not parse:
            for raw in batch:  # read here what matching needs, for the job's process
                for match_type in ctx.match_types or (ctx.match_type,):
                    match_value(raw, match_type)
            _note_known_patrons(ctx, batch)
            yield ("batch", (batch, None))
            continue
        # An Import creates users from their checked data: the rest of each user stays here,
        # but for the bytes of a user its rules refuse, which the job keeps for "Run again".
        results = []
        for raw in batch:
            result = raw.decoded or parse_record(raw, ctx.codes, with_hash=False)
            results.append(result)
            raw.decoded = None
            if result.data is not None:
                raw.raw = b""
        yield ("batch", (batch, results))
    yield ("end", reader.problems)


def _note_known_patrons(ctx: RunContext, batch: list[RawUser]) -> None:
    """Mark each record whose bytes are the stored bytes of the user holding its match value
    (`KnownHashes.patron_of`): the job's process matches it without a query."""
    known = ctx.known
    if known is None or len(ctx.match_types) > 1:
        return
    for raw in batch:
        value = match_value(raw, ctx.match_type)
        if value:
            raw.known_patron = known.patron_of(raw.raw_hash, match_key(identifier_key(value)))
    known.forget_hits()


def known_hashes(ctx: RunContext) -> KnownHashes:
    """The hashes stored on the institution's users; with whose bytes each is, for a profile
    matching on one match ID type."""
    if len(ctx.match_types) > 1:
        return KnownHashes(patron_raw_hashes(institution=ctx.institution))
    rows = patron_raw_hashes_with_match(
        institution=ctx.institution,
        id_type=PRIMARY_ID_TYPE if ctx.match_type == "PRIMARY_ID" else ctx.match_type,
        profile_code=ctx.profile_code,
        record_type=ctx.record_type,
    )
    return KnownHashes.with_patrons(
        (raw_hash, patron_id, match_key(value_key) if patron_id else 0)
        for raw_hash, patron_id, value_key in rows
    )


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
# How long the job's process waits on its reader before it checks that the reader still runs.
READER_CHECK_SECONDS = 5.0
BATCH_FOLLOWS = b"batch"  # the message before a packed batch; any other is a pickled tuple


def _die_with_parent(parent: int) -> None:
    """Make this forked process end when `parent`, the job's process, ends, however it ends.

    On Linux the kernel sends SIGKILL to a child whose parent dies (`PR_SET_PDEATHSIG`), asked
    for at once after the fork; a parent that died before the request is caught by its
    process ID having changed. Elsewhere the reader's next send fails once its parent is gone
    (the parent held the pipe's only reading end), and the reader ends there.
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass  # the parent check below and the pipe still hold
    if os.getppid() != parent:
        os._exit(1)


def _read_ahead_worker(
    ctx: RunContext, path: Path, name: str, skip: int, pipe: Any, theirs: Any, parent: int
) -> None:
    """The reading process: read, hash, mark known users and (Import) decode; never touch the
    database. It ends with its parent (`_die_with_parent`).

    Each batch goes down the pipe as its packed bytes (`wire.pack`), after a BATCH_FOLLOWS
    message; the file's end and an error go as pickled tuples. A send waits until the job's
    process takes the message: the reader runs one batch ahead, and holds no queue of them.
    """
    theirs.close()  # the job's end of the pipe: once the job is gone, a send here fails
    _die_with_parent(parent)
    try:
        for kind, payload in _read_file(ctx, path, name, skip):
            if kind == "batch":
                blob = pack(*payload)
                pipe.send_bytes(BATCH_FOLLOWS)
                pipe.send_bytes(blob)
                del blob, payload
            else:
                pipe.send((kind, payload))
    except BaseException:
        with contextlib.suppress(OSError):  # unless the job's process is gone
            pipe.send(("error", traceback.format_exc()))
    finally:
        pipe.close()


def _batches_of_file(
    ctx: RunContext, path: Path, name: str, skip: int
) -> Iterator[tuple[str, Any]]:
    """The file's batches, then ("end", problems), read in a second process unless disabled.

    The process is forked: it inherits the loaded code and settings. It ends with this one,
    even when this one is killed with SIGKILL (see `_die_with_parent`).
    """
    if not READ_AHEAD:
        yield from _read_file(ctx, path, name, skip)
        return
    mp = multiprocessing.get_context("fork")
    mine, theirs = mp.Pipe(duplex=False)
    process = mp.Process(
        target=_read_ahead_worker,
        args=(ctx, path, name, skip, theirs, mine, os.getpid()),
        daemon=True,
    )
    process.start()
    theirs.close()  # the reader's end: the reader holds it now
    try:
        while True:
            if not mine.poll(READER_CHECK_SECONDS):
                if not process.is_alive():
                    raise RuntimeError(f"{name}: the reading process stopped")
                continue
            try:
                message = mine.recv_bytes()
                blob = mine.recv_bytes() if message == BATCH_FOLLOWS else None
            except EOFError:
                raise RuntimeError(f"{name}: the reading process stopped") from None
            if blob is not None:
                yield ("batch", unpack(blob))
                continue
            kind, payload = pickle.loads(message)  # noqa: S301 - from our own reading process
            if kind == "error":
                raise RuntimeError(f"{name}: reading failed:\n{payload}")
            yield (kind, payload)
            if kind == "end":
                return
    finally:
        process.kill()
        process.join()
        mine.close()


@contextmanager
def _few_collections() -> Iterator[None]:
    """Run the cyclic garbage collector rarely while a file loads, in both processes.

    A batch makes hundreds of thousands of small dicts and lists, freed by reference counting
    as soon as the batch is written. With the default thresholds the collector would walk every
    live object again and again as they are made (measured: decoding took 86 µs a user instead of
    46, and receiving a pickled batch about 130 µs a user instead of 22). What is loaded before
    the file starts is frozen out of the collector's way.
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(200_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


class _Commits:
    """A file's batches, each decided and committed in its transaction with its checkpoint
    (the users of the file done so far); ANALYZE as users are written, and the roles warning."""

    def __init__(
        self, ctx: RunContext, name: str, sha256: str, position: int, progress: Progress | None
    ) -> None:
        self.ctx, self.name, self.sha256, self.progress = ctx, name, sha256, progress
        self.position = position
        self.written_since_analyze = 0
        self.roles_ignored = 0  # records read in full that carried user roles

    def commit(
        self,
        batch: list[RawUser],
        parsed: list[ParseResult] | None,
        kept: dict[int, tuple[float, str]] | None = None,
    ) -> None:
        ctx = self.ctx
        processor = BatchProcessor(ctx, batch, parsed, kept)
        processor.run()
        self.position += len(batch)
        write_batch(ctx, processor, {"file": self.sha256, "position": self.position})
        self.written_since_analyze += sum(
            1 for o in processor.outcomes if o.outcome in WRITTEN_OUTCOMES
        )
        self.roles_ignored += processor.roles_ignored
        if self.written_since_analyze >= ANALYZE_EVERY:
            analyze(Patron, PatronIdentifier)
            self.written_since_analyze = 0
        # With DEBUG on, Django keeps every query's text (thousands of lookup values per batch):
        # forget them, as it does after each web request, so memory stays flat.
        reset_queries()
        if self.progress:
            self.progress(len(batch))
        if requested_by := ctx.sink.stop_requested():
            raise JobCancelled(
                f"Cancelled by {requested_by} after {self.position:,} users of {self.name}"
            )

    def finish(self) -> None:
        if self.written_since_analyze:
            analyze(Patron, PatronIdentifier)
        if count := self.roles_ignored:
            records = "1 record carries" if count == 1 else f"{count:,} records carry"
            self.ctx.sink.log(
                logging.WARNING,
                f"{self.name}: {records} user roles; roles are not part of the SIS load, so a "
                "feed never sets them: they were ignored",
            )


def load_file(
    ctx: RunContext, path: Path, name: str, sha256: str, skip: int, progress: Progress | None
) -> tuple[int, list[dict[str, Any]]]:
    """Stream one file's users through the batches; returns (users read, file problems)."""
    if ctx.kind == JobKind.SYNCHRONIZE and ctx.known is None:
        ctx.known = known_hashes(ctx)
    commits = _Commits(ctx, name, sha256, skip, progress)
    file_problems: list[Any] = []
    with _few_collections():
        for kind, payload in _batches_of_file(ctx, path, name, skip):
            if kind == "end":
                file_problems = payload
                break
            commits.commit(*payload)
    commits.finish()
    return commits.position, [_file_problem(p) for p in file_problems]


def load_planned(
    ctx: RunContext,
    batches: Iterator[list[RawUser]],
    kept: KeptUsers,
    name: str,
    sha256: str,
    skip: int,
    progress: Progress | None,
) -> int:
    """An apply pass that applies a plan's records alone: `batches` are the planned records of
    one file (the users to create, update or reject, from the bytes the plan kept), after the
    `skip` first; `kept` the users the plan kept unchanged, not read again.

    Each kept user is touched where the file has it: before the batch if it came before the
    batch's first record, half-way between the records around it if among them, its primary ID
    then taken as its record took it (`BatchProcessor`'s `kept`), so every record is decided as
    the full pass would decide it. The plan's profile matches on the primary ID (`jobs.planned`).
    Returns the planned records applied (the checkpoint's position).
    """
    ctx.known = None  # records not read by a reader: each is looked up
    commits = _Commits(ctx, name, sha256, skip, progress)
    done = skip  # planned records of the file before the next batch

    def touch(patron_id: int) -> None:
        ctx.touched.add(patron_id)
        if ctx.seen is not None:
            ctx.seen.add(patron_id)

    def touch_before(upto: int) -> None:
        taken = 0
        for _, patron_id in kept.take(upto):
            touch(patron_id)
            taken += 1
        if taken and progress:  # the kept users count as done where the feed has them
            progress(taken)

    with _few_collections():
        for batch in batches:
            touch_before(done)
            between = list(kept.take(done + len(batch) - 1))
            # Only a kept user holding a value the batch's records give can change how they
            # are decided: those are placed among the records, the others touched after them.
            keys = _primary_id_keys(ctx, batch, [patron_id for _, patron_id in between])
            at = {pid: (before - done - 0.5, keys[pid]) for before, pid in between if pid in keys}
            commits.commit(batch, None, at)
            for _, patron_id in between:
                touch(patron_id)
            if between and progress:
                progress(len(between))
            done += len(batch)
    touch_before(sys.maxsize)
    commits.finish()
    return commits.position


def _primary_id_keys(ctx: RunContext, batch: list[RawUser], kept: list[int]) -> dict[int, str]:
    """Of the `kept` users, those holding a value that a record of `batch` gives (its primary
    ID or an identifier): each with the key of its primary ID, the match value of its record."""
    if not kept:
        return {}
    values = {identifier_key(value) for raw in batch
              for value in (raw.primary_id, *(v for _, v in raw.identifiers)) if value}  # fmt: skip
    holders = set(
        PatronIdentifier.objects.filter(
            institution=ctx.institution, value_key__in=list(values)
        ).values_list("patron_id", flat=True)
    ).intersection(kept)
    if not holders:
        return {}
    return dict(
        PatronIdentifier.objects.filter(
            patron_id__in=list(holders), id_type=PRIMARY_ID_TYPE
        ).values_list("patron_id", "value_key")
    )


def _file_problem(problem: Problem) -> dict[str, Any]:
    """A file-level problem for the job's report: an error in Alma's words, with where it is,
    naming the user being read when the file could not be read further, if known."""
    message = str(problem)
    if problem.is_error:
        where = [
            f"{label} {value}"
            for label, value in (("entry", problem.entry), ("line", problem.line))
            if value is not None
        ]
        if problem.primary_id:
            where.append(f"in user with primary ID {problem.primary_id}")
        located = f" ({', '.join(where)})" if where else ""
        message = f"Could not parse file {problem.file}{located}: {problem.message}"
    return {
        "code": problem.code,
        "message": bounded(message, REASON_CHARS),  # names and IDs come from the feed
        "line": problem.line,
        "entry": problem.entry,
    }
