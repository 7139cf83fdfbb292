"""Open a feed (an XML file, a zip of XML files, bytes or a stream) and refuse hostile zips."""

from __future__ import annotations

import io
import os
import struct
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath
from typing import IO

from patronsync.almaxml.errors import FeedError, Problem

Source = str | os.PathLike[str] | bytes | IO[bytes]

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
# The zip records that say how many entries a zip has (APPNOTE.TXT 4.3.12 to 4.3.16).
_END = struct.Struct("<4s4H2LH")  # end of central directory
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_END = struct.Struct("<4sQ2H2L4Q")
_CENTRAL_HEADER = 46  # the fixed part of an entry's central directory header
_NAME_EXTRA_COMMENT = struct.Struct("<3H")  # its lengths, at offset 28


@dataclass(frozen=True, slots=True)
class Limits:
    """Hostile-input limits. The defaults follow Alma's own limits where it has any.

    A zip is refused as a whole when it has more than `max_entries` entries of any kind (folders
    and non-XML files count: Alma's limit of 50 does), or more than `max_xml_entries` XML files,
    when its entries add up to more than `max_total_bytes` uncompressed, when an entry larger
    than `ratio_min_bytes` expands more than `max_ratio` times, or when an entry's name is
    absolute or climbs out with ``..``. A ``<user>`` larger than `max_user_bytes` is refused.
    """

    max_total_bytes: int = 4 * 1024**3
    max_ratio: float = 200.0
    ratio_min_bytes: int = 1024**2
    max_xml_entries: int = 50
    max_user_bytes: int = 1024**2
    max_entries: int = 50


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class Part:
    """One XML document to read: a plain file, or one entry of a zip."""

    file: str
    entry: str | None
    open: Callable[[], IO[bytes]]


def _refuse(file: str, code: str, message: str, entry: str | None = None) -> FeedError:
    return FeedError(Problem("error", code, message, file=file, entry=entry))


def _unsafe_name(name: str) -> bool:
    for path in (PurePosixPath(name), PureWindowsPath(name)):
        if path.is_absolute() or path.drive or path.root or ".." in path.parts:
            return True
    return False


def _is_junk(name: str) -> bool:
    """macOS resource forks (``__MACOSX/``, ``._x.xml``) that look like XML but are not."""
    base = name.rsplit("/", 1)[-1]
    return name.startswith("__MACOSX/") or base.startswith("._")


def _entry_counts(stream: IO[bytes], start: int, stop: int) -> tuple[int, int] | None:
    """(entries the zip says it has, entries its central directory holds, counted up to `stop`),
    read from the zip's own records without listing its entries; None when they are unclear
    (zipfile then judges the zip, and its entries are counted once listed).

    A zip of 300,000 empty entries is small on disk; listing it with zipfile takes hundreds of
    megabytes. Both counts are taken because the first is only what the zip claims.
    """
    end = stream.seek(0, os.SEEK_END)
    tail_size = min(end - start, _END.size + 0xFFFF)  # the record, then a comment of up to 64 KB
    stream.seek(end - tail_size)
    tail = stream.read(tail_size)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < _END.size:
        return None
    record = end - tail_size + at
    *_, declared, cd_size, cd_offset, _comment = _END.unpack_from(tail, at)
    if declared == 0xFFFF or 0xFFFFFFFF in (cd_size, cd_offset):  # a zip64 zip
        if record - _ZIP64_LOCATOR.size - _ZIP64_END.size < start:
            return None
        stream.seek(record - _ZIP64_LOCATOR.size - _ZIP64_END.size)
        head = stream.read(_ZIP64_END.size + _ZIP64_LOCATOR.size)
        if head[:4] != b"PK\x06\x06" or head[_ZIP64_END.size :][:4] != b"PK\x06\x07":
            return None
        fields = _ZIP64_END.unpack_from(head)
        declared, cd_size = fields[7], fields[8]
        record -= _ZIP64_LOCATOR.size + _ZIP64_END.size
    at = record - cd_size  # where the central directory starts, whatever precedes the zip
    if at < start:
        return None
    held = 0
    while at < record and held < stop:
        stream.seek(at)
        header = stream.read(_CENTRAL_HEADER)
        if len(header) < _CENTRAL_HEADER or header[:4] != b"PK\x01\x02":
            return None
        at += _CENTRAL_HEADER + sum(_NAME_EXTRA_COMMENT.unpack_from(header, 28))
        held += 1
    return declared, held


def _too_many_entries(file: str, count: int | None, limit: int) -> FeedError:
    many = f"{count:,} entries" if count is not None else f"more than {limit:,} entries"
    msg = (
        f"zip holds {many}, over the limit of {limit:,}: every entry counts, XML or not, folders "
        "included (Alma's limit); zip refused"
    )
    return _refuse(file, "ZIP_TOO_MANY_ENTRIES", msg)


def _zip_parts(
    zf: zipfile.ZipFile, file: str, limits: Limits, problems: list[Problem]
) -> list[Part]:
    """Check the whole zip first (counts, names, sizes, ratios), then list its XML entries."""
    infos = zf.infolist()
    if len(infos) > limits.max_entries:
        raise _too_many_entries(file, len(infos), limits.max_entries)
    for info in infos:
        if _unsafe_name(info.filename):
            msg = f"zip entry {info.filename!r} has an absolute or '..' path; zip refused"
            raise _refuse(file, "ZIP_UNSAFE_PATH", msg)
    total = sum(info.file_size for info in infos)
    if total > limits.max_total_bytes:
        msg = f"zip expands to {total:,} bytes, over the limit of {limits.max_total_bytes:,}"
        raise _refuse(file, "ZIP_TOO_LARGE", msg)
    for info in infos:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > limits.ratio_min_bytes and ratio > limits.max_ratio:
            msg = (
                f"zip entry {info.filename!r} expands {ratio:,.0f} times "
                f"(limit {limits.max_ratio:,.0f}): looks like a zip bomb; zip refused"
            )
            raise _refuse(file, "ZIP_BOMB", msg)
    xml: list[zipfile.ZipInfo] = []
    for info in infos:
        if info.is_dir():
            continue
        if info.filename.lower().endswith(".xml") and not _is_junk(info.filename):
            xml.append(info)
        else:
            msg = f"zip entry {info.filename!r} is not an XML file; skipped"
            problems.append(Problem("warning", "ZIP_ENTRY_SKIPPED", msg, file, info.filename))
    if len(xml) > limits.max_xml_entries:
        msg = f"zip holds {len(xml)} XML files, over the limit of {limits.max_xml_entries}"
        raise _refuse(file, "ZIP_TOO_MANY_ENTRIES", msg)
    xml.sort(key=lambda info: info.filename)
    return [Part(file, info.filename, _opener(zf, info)) for info in xml]


def _opener(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Callable[[], IO[bytes]]:
    # zipfile never returns more than the entry's declared size, so the size checks above bind.
    return lambda: zf.open(info)


def _rewound(stream: IO[bytes], start: int) -> IO[bytes]:
    """A plain file's stream, at its start again: a document may be read twice."""
    stream.seek(start)
    return stream


def _display_name(source: Source, name: str | None) -> str:
    if name:
        return name
    if isinstance(source, bytes):
        return "<bytes>"
    if isinstance(source, str | os.PathLike):
        return os.path.basename(os.fspath(source))
    raw = getattr(source, "name", None)
    return os.path.basename(raw) if isinstance(raw, str) else "<stream>"


def iter_parts(
    source: Source, *, name: str | None, limits: Limits, problems: list[Problem]
) -> Iterator[Part]:
    """Yield the XML documents of `source` in reading order; zip entries by name.

    Raises FeedError when the file cannot be opened or a zip is refused; warnings (skipped
    entries) are appended to `problems`.
    """
    file = _display_name(source, name)
    try:
        if isinstance(source, bytes):
            stream: IO[bytes] = io.BytesIO(source)
        elif isinstance(source, str | os.PathLike):
            stream = open(source, "rb")  # noqa: SIM115 - closed below, after the parts are read
        else:
            stream = source if source.seekable() else io.BytesIO(source.read())
    except OSError as exc:
        raise _refuse(file, "FILE_UNREADABLE", f"cannot open file: {exc.strerror}") from exc
    try:
        start = stream.tell()
        magic = stream.read(4)
        stream.seek(start)
        if magic not in _ZIP_MAGIC:
            yield Part(file, None, lambda: _rewound(stream, start))
            return
        # Count the entries before zipfile lists them all (see `_entry_counts`).
        counts = _entry_counts(stream, start, limits.max_entries + 1)
        if counts is not None and max(counts) > limits.max_entries:
            declared = counts[0] if counts[0] > limits.max_entries else None
            raise _too_many_entries(file, declared, limits.max_entries)
        stream.seek(start)
        try:
            zf = zipfile.ZipFile(stream)
        except (zipfile.BadZipFile, OSError) as exc:
            raise _refuse(file, "ZIP_CORRUPT", f"not a readable zip file: {exc}") from exc
        with zf:
            yield from _zip_parts(zf, file, limits, problems)
    finally:
        if stream is not source:
            stream.close()
