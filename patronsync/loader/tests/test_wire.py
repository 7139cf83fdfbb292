"""Batches cross from the reading process to the job's process unchanged."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from patronsync.almaxml import RawUser
from patronsync.almaxml.reader import Position
from patronsync.loader import pipeline
from patronsync.loader.batch import ParseResult
from patronsync.loader.wire import pack, unpack
from patronsync.patrons.rules import PatronData


def user(n: int, raw: bytes = b"<user/>") -> RawUser:
    read = RawUser(Position("feed.zip", "users.xml", 10 * n, n), f"hash{n}", raw)
    read.cached_primary_id, read.cached_identifiers = f"u{n}", [("BARCODE", f"B{n}")]
    return read


def test_a_synchronize_batch_keeps_its_users_and_their_bytes() -> None:
    users = [user(1, b"<user><primary_id>u1</primary_id></user>"), user(2)]
    assert unpack(pack(users, None)) == (users, None)


def test_match_values_not_read_before_are_read_after_the_crossing() -> None:
    raw = (
        b"<user><primary_id>P1</primary_id><user_identifiers><user_identifier>"
        b"<id_type>BARCODE</id_type><value>B1</value></user_identifier></user_identifiers></user>"
    )
    half_read = RawUser(Position("feed.zip", None, 3, 1), "hash1", raw)
    assert half_read.primary_id == "P1"  # read before packing; identifiers are not
    [received], _ = unpack(pack([half_read], None))
    assert received.cached_primary_id == "P1"
    assert received.cached_identifiers is None
    assert received.identifiers == [("BARCODE", "B1")]


def test_an_import_batch_keeps_dates_segments_and_rejections() -> None:
    data = PatronData(
        core={"primary_id": "u1", "expiry_date": dt.date(2030, 1, 31), "is_researcher": False},
        identifiers=[{"id_type": {"value": "BARCODE"}, "value": "B1", "segment_type": "External"}],
        segments={"email": [{"email_address": "a@x.edu", "preferred": True}]},
        present={"primary_id", "expiry_date", "is_researcher", "email", "user_identifier"},
    )
    results = [
        ParseResult(data),
        ParseResult(None, reject_code="INVALID_DATE", reject_reason="Field birth_date ..."),
    ]
    users, unpacked = unpack(pack([user(1), user(2)], results))
    assert users == [user(1), user(2)]
    assert unpacked == results
    assert isinstance(unpacked[0].data.core["expiry_date"], dt.date)


def _reading(monkeypatch, read_file):
    monkeypatch.setattr(pipeline, "READ_AHEAD", True)
    monkeypatch.setattr(pipeline, "_read_file", read_file)  # the forked reader runs it too
    return pipeline._batches_of_file(None, Path("feed.zip"), "feed.zip", 0)  # type: ignore[arg-type]


def test_the_readers_error_reaches_the_job_with_its_traceback(monkeypatch) -> None:
    def read_file(ctx, path, name, skip):
        yield ("batch", ([user(1)], None))
        raise ValueError("the feed's third entry is unreadable")

    batches = _reading(monkeypatch, read_file)
    kind, (users, _) = next(batches)
    assert (kind, [u.cached_primary_id for u in users]) == ("batch", ["u1"])
    with pytest.raises(
        RuntimeError, match=r"(?s)feed\.zip: reading failed:.*third entry is unreadable"
    ):
        next(batches)


def test_a_reader_that_dies_stops_the_file_with_a_clear_error(monkeypatch) -> None:
    def read_file(ctx, path, name, skip):
        yield ("batch", ([user(1)], None))
        os._exit(3)

    batches = _reading(monkeypatch, read_file)
    next(batches)
    with pytest.raises(RuntimeError, match=r"feed\.zip: the reading process stopped"):
        next(batches)


def test_the_files_end_and_its_problems_follow_its_batches(monkeypatch) -> None:
    def read_file(ctx, path, name, skip):
        for n in (1, 2):
            yield ("batch", ([user(n)], None))
        yield ("end", ["a file problem"])

    assert [kind for kind, _ in _reading(monkeypatch, read_file)] == ["batch", "batch", "end"]
