"""Batches sent from the reading process to the job's process, packed with `marshal`.

`pickle` spends most of its time on a batch's objects (dataclasses, dates, sets), on both sides
of the pipe. Packed, a batch is only tuples, lists, dicts, strings and bytes, which `marshal`
writes and reads several times faster (measured on a 2,000-user Import batch: 17 + 20 µs a user
against 42 + 28 µs with pickle). Both ends run the same code, so marshal's version-specific
format is not a concern.
"""

from __future__ import annotations

import datetime as dt
import marshal
from typing import Any

from patronsync.almaxml import RawUser
from patronsync.almaxml.reader import Position
from patronsync.patrons.fields import CORE_FIELDS
from patronsync.patrons.rules import PatronData

from .batch import ParseResult

DATE_FIELDS = tuple(name for name, spec in CORE_FIELDS.items() if spec.kind == "date")


def _pack_result(result: ParseResult) -> tuple[Any, ...]:
    data = result.data
    if data is None:
        return (None, result.content_hash, result.reject_code, result.reject_reason)
    core = data.core
    if any(name in core for name in DATE_FIELDS):
        core = dict(core)
        for name in DATE_FIELDS:
            if isinstance(value := core.get(name), dt.date):
                core[name] = value.isoformat()
    fields = (core, data.identifiers, data.segments, data.researcher, tuple(data.present))
    return (fields, result.content_hash, result.reject_code, result.reject_reason)


def _unpack_result(packed: tuple[Any, ...]) -> ParseResult:
    fields, content_hash, reject_code, reject_reason = packed
    if fields is None:
        return ParseResult(None, content_hash, reject_code, reject_reason)
    core, identifiers, segments, researcher, present = fields
    for name in DATE_FIELDS:
        if isinstance(value := core.get(name), str):
            core[name] = dt.date.fromisoformat(value)
    data = PatronData(core, identifiers, segments, researcher, set(present))
    return ParseResult(data, content_hash, reject_code, reject_reason)


def pack(users: list[RawUser], results: list[ParseResult] | None) -> bytes:
    """One batch as bytes. `decoded` is not sent (the reading process has used it); match values
    go as far as they were read."""
    rows = [
        (u.position.file, u.position.entry, u.position.line, u.position.ordinal, u.raw_hash,
         u.raw, u.strict, u.cached_primary_id, u.cached_identifiers, u.known_patron)
        for u in users
    ]  # fmt: skip
    packed = None if results is None else [_pack_result(r) for r in results]
    return marshal.dumps((rows, packed))


def unpack(blob: bytes) -> tuple[list[RawUser], list[ParseResult] | None]:
    """The batch that `pack` packed."""
    rows, packed = marshal.loads(blob)  # noqa: S302 - bytes from our own reading process
    users = [
        RawUser(Position(file, entry, line, ordinal), raw_hash, raw, strict, None, primary_id,
                identifiers, known_patron)
        for (file, entry, line, ordinal, raw_hash, raw, strict, primary_id, identifiers,
             known_patron) in rows
    ]  # fmt: skip
    results = None if packed is None else [_unpack_result(p) for p in packed]
    return users, results
