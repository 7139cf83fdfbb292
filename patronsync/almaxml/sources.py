"""Open a feed (an XML file, a zip of XML files, bytes or a stream) and refuse hostile zips."""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath
from typing import IO

from patronsync.almaxml.errors import FeedError, Problem

Source = str | os.PathLike[str] | bytes | IO[bytes]

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


@dataclass(frozen=True, slots=True)
class Limits:
    """Hostile-input limits. The defaults follow Alma's own limits where it has any.

    A zip is refused as a whole when it has more than `max_xml_entries` XML files, when its
    entries add up to more than `max_total_bytes` uncompressed, when an entry larger than
    `ratio_min_bytes` expands more than `max_ratio` times, or when an entry's name is absolute or
    climbs out with ``..``. A ``<user>`` larger than `max_user_bytes` is refused.
    """

    max_total_bytes: int = 4 * 1024**3
    max_ratio: float = 200.0
    ratio_min_bytes: int = 1024**2
    max_xml_entries: int = 50
    max_user_bytes: int = 1024**2


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


def _zip_parts(
    zf: zipfile.ZipFile, file: str, limits: Limits, problems: list[Problem]
) -> list[Part]:
    """Check the whole zip first (names, sizes, ratios, counts), then list its XML entries."""
    infos = zf.infolist()
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
        try:
            zf = zipfile.ZipFile(stream)
        except (zipfile.BadZipFile, OSError) as exc:
            raise _refuse(file, "ZIP_CORRUPT", f"not a readable zip file: {exc}") from exc
        with zf:
            yield from _zip_parts(zf, file, limits, problems)
    finally:
        if stream is not source:
            stream.close()
