"""Reading SIS exports row by row: CSV (any delimiter and encoding), JSON arrays, JSON Lines.

Every reader streams: a row is read, converted and dropped before the next. A joined file is
indexed once into a temporary SQLite file (the standard library's sqlite3), so a million rows
on either side keep memory flat.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import json
import os
import re
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from patronsync.feeds.convert.mapping import InputSpec

SNIFF_BYTES = 64 * 1024
# Files are read in blocks this small: a new megabyte-sized string per block fragments the
# heap, and the process keeps the fragments (its peak RSS grew with the file's size).
ENCODING_CHUNK = 64 * 1024
JSON_CHUNK = 64 * 1024
MAX_JSON_OBJECT = 16 * 1024 * 1024
FALLBACK_ENCODING = "cp1252"
DELIMITERS = ",;\t|"
# Whitespace between JSON values: what str.strip() drops (both use Python's isspace).
_SPACE = re.compile(r"\s*")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class InputError(ValueError):
    """An input file that cannot be read at all (not a row's fault): names the file and line."""

    def __init__(self, path: str, message: str, line: int | None = None) -> None:
        super().__init__(f"{path}:{line}: {message}" if line else f"{path}: {message}")
        self.path = path
        self.line = line
        self.message = message


@dataclass(slots=True)
class Row:
    """One record of an input: its values by column, and where it starts (1-based line).

    `problem` is set when the record itself is malformed (a CSV row with too many fields).
    """

    values: dict[str, Any]
    line: int
    problem: str | None = None


@dataclass(slots=True)
class Source:
    """An opened input: its rows, its columns (CSV; None for JSON), what was found out."""

    path: str
    format: str
    rows: Iterator[Row]
    columns: list[str] | None = None
    encoding: str | None = None
    delimiter: str | None = None
    warnings: list[str] = field(default_factory=list)


def detect_format(path: str | Path, spec: InputSpec) -> str:
    """csv, json or jsonl: as the mapping says, else from the extension, else from content."""
    if spec.format:
        return spec.format
    suffix = Path(path).suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".json":
        return "json"
    return "csv"


def detect_encoding(path: str | Path, *, chunk: int | None = None) -> tuple[str, str | None]:
    """The file's encoding and a warning: a BOM decides; else UTF-8 when every byte is valid
    UTF-8 (checked over the whole file, streaming), else cp1252, with a warning.

    The file is read `chunk` bytes at a time (ENCODING_CHUNK) into one buffer that is reused:
    a character cut by a chunk's end is carried to the front of the buffer and checked with
    the next chunk, so memory stays the same at any file size."""
    size = chunk or ENCODING_CHUNK
    buffer = bytearray(size + 4)  # room for a cut character carried over (at most 3 bytes)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as fh:
        head = fh.read(4)
        for bom, name in _BOMS:
            if head.startswith(bom):
                return name, None
        fh.seek(0)
        offset = 0  # the file offset of buffer[0]
        line = 1  # the line of buffer[0]
        carried = 0  # bytes of a cut character at the front of the buffer
        while True:
            read = fh.readinto(view[carried : carried + size])
            if not read:
                break
            filled = carried + read
            try:
                _, used = codecs.utf_8_decode(view[:filled], "strict", False)
            except UnicodeDecodeError as exc:
                line += buffer.count(b"\n", 0, exc.start)
                byte = buffer[exc.start : exc.start + 1].hex()
                return FALLBACK_ENCODING, (
                    f"{path}:{line}: not UTF-8 (byte 0x{byte} at offset {offset + exc.start}); "
                    f"read as {FALLBACK_ENCODING} (Windows Latin-1): give --encoding if that is "
                    "wrong"
                )
            line += buffer.count(b"\n", 0, used)
            offset += used
            carried = filled - used
            view[:carried] = view[used:filled]
        if carried:
            return FALLBACK_ENCODING, (
                f"{path}: ends inside a UTF-8 character; read as {FALLBACK_ENCODING}"
            )
    return "utf-8", None


def _text(path: str | Path, encoding: str) -> IO[str]:
    # utf-8-sig also drops a BOM when the encoding was given as plain utf-8.
    name = "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding
    return open(path, encoding=name, newline="")


def open_input(path: str | os.PathLike[str], spec: InputSpec, *, encoding: str | None = None,
               delimiter: str | None = None) -> Source:  # fmt: skip
    """Open `path` as the mapping (and the command line, which wins) say."""
    name = os.fspath(path)
    if not Path(name).is_file():
        raise InputError(name, "no such file")
    fmt = detect_format(name, spec)
    warnings: list[str] = []
    chosen = encoding or spec.encoding
    if chosen is None:
        chosen, warning = detect_encoding(name)
        if warning:
            warnings.append(warning)
    if fmt == "csv":
        return _open_csv(name, chosen, delimiter or spec.delimiter, warnings)
    reader = _json_lines(name, chosen) if fmt == "jsonl" else _json_array(name, chosen)
    return Source(name, fmt, reader, None, chosen, None, warnings)


def _open_csv(path: str, encoding: str, delimiter: str | None, warnings: list[str]) -> Source:
    fh = _text(path, encoding)
    try:
        sample = fh.read(SNIFF_BYTES)
    except UnicodeDecodeError as exc:
        fh.close()
        raise InputError(path, f"cannot be read as {encoding}: {exc.reason}") from None
    if delimiter is None:
        delimiter = _sniff(sample)
    fh.seek(0)
    reader = csv.reader(fh, delimiter=delimiter, strict=False)
    try:
        header = next(reader)
    except StopIteration:
        fh.close()
        raise InputError(path, "the file is empty: a header row is needed") from None
    columns = [c.strip() for c in header]
    seen: dict[str, int] = {}
    for number, column in enumerate(columns, start=1):
        if not column:
            fh.close()
            raise InputError(path, f"header column {number} has no name", 1)
        if column in seen:
            fh.close()
            raise InputError(
                path, f"column {column!r} is in the header twice (columns {seen[column]} and "
                f"{number})", 1)  # fmt: skip
        seen[column] = number

    def rows() -> Iterator[Row]:
        width = len(columns)
        line = reader.line_num + 1
        try:
            for record in reader:
                start = line
                line = reader.line_num + 1
                if not record or (len(record) == 1 and not record[0].strip()):
                    continue  # a blank line
                problem = None
                if len(record) != width:
                    problem = (
                        f"row has {len(record)} fields, the header {width} (a delimiter or a "
                        "quote inside a value?)"
                    )
                values = {c: (v.strip() or None) for c, v in zip(columns, record, strict=False)}
                yield Row(values, start, problem)
        except UnicodeDecodeError as exc:
            raise InputError(path, f"cannot be read as {encoding}: {exc.reason}", line) from None
        except csv.Error as exc:
            raise InputError(path, f"not valid CSV: {exc}", line) from None
        finally:
            fh.close()

    return Source(path, "csv", rows(), columns, encoding, delimiter, warnings)


def _sniff(sample: str) -> str:
    """The delimiter of the header and first rows: csv.Sniffer, else the most common one."""
    lines = sample.splitlines()[:20]
    if len(lines) > 1 and len(sample) >= SNIFF_BYTES:
        lines = lines[:-1]  # the last line may be cut
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=DELIMITERS).delimiter
    except csv.Error:
        header = lines[0] if lines else ""
        counts = {d: header.count(d) for d in DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


def _scalar_row(values: Any, path: str, line: int) -> Row:
    if not isinstance(values, dict):
        kind = type(values).__name__
        return Row({}, line, f"expected a JSON object for a user, got {kind}")
    return Row(values, line)


def _json_lines(path: str, encoding: str) -> Iterator[Row]:
    """One JSON object per line; blank lines are skipped; a bad line is a bad row."""
    with _text(path, encoding) as fh:
        for number, text in enumerate(fh, start=1):
            if not text.strip():
                continue
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                yield Row({}, number, f"not valid JSON: {exc.msg} (character {exc.colno})")
                continue
            yield _scalar_row(value, path, number)


def _json_array(path: str, encoding: str) -> Iterator[Row]:
    """A JSON array of objects, streamed: each element is decoded with raw_decode from a
    buffer read JSON_CHUNK (64 KB) at a time, so the array is never held whole. An object
    wrapping the array (``{"generated": "...", "users": [...]}``) is read the same way: its
    first key whose value is an array holds the users; the values before it are skipped.

    The reader keeps an index into the buffer (decoding, whitespace and commas move it), and
    drops what is behind it only when the next chunk is read: a chunk is copied once, not
    once per element. A value longer than a chunk doubles what is read next, so it is decoded
    a few times, not once per chunk; one value may not pass MAX_JSON_OBJECT."""
    decoder = json.JSONDecoder()
    with _text(path, encoding) as fh:
        buffer = ""
        pos = 0  # the next character to read; buffer[:pos] is consumed
        line = 1  # the line of buffer[pos]
        eof = False

        def fill(more: int = 0) -> bool:
            """Read JSON_CHUNK characters, or `more` when that is larger; drop buffer[:pos]."""
            nonlocal buffer, pos, eof
            if eof:
                return False
            chunk = fh.read(max(JSON_CHUNK, more))
            if not chunk:
                eof = True
                return False
            buffer = buffer[pos:] + chunk
            pos = 0
            return True

        def skip_space() -> str:
            """Move past whitespace; the next character ('' at the end of the file)."""
            nonlocal pos, line
            while True:
                space = _SPACE.match(buffer, pos)
                end = space.end() if space else pos
                line += buffer.count("\n", pos, end)
                pos = end
                if pos < len(buffer) or not fill():
                    return buffer[pos : pos + 1]

        def take(char: str) -> None:
            nonlocal pos
            pos += len(char)

        def decode() -> tuple[Any, int]:
            """The next JSON value and the line it starts on; the index moves past it."""
            nonlocal pos, line
            while True:
                try:
                    value, end = decoder.raw_decode(buffer, pos)
                except json.JSONDecodeError as exc:
                    # Most likely the value goes on in the next chunk; a real syntax error
                    # stops once one value would pass MAX_JSON_OBJECT.
                    pending = len(buffer) - pos
                    if pending < MAX_JSON_OBJECT and fill(min(pending, MAX_JSON_OBJECT - pending)):
                        continue
                    at = line + buffer.count("\n", pos, exc.pos)
                    raise InputError(path, f"not valid JSON: {exc.msg}", at) from None
                number_cut = end == len(buffer) and isinstance(value, int | float)
                if number_cut and not eof and fill():  # a number may go on in the next chunk
                    continue
                start = line
                line += buffer.count("\n", pos, end)
                pos = end
                return value, start

        def expect(chars: str, what: str) -> str:
            char = skip_space()
            if not char or char not in chars:
                found = repr(char) if char else "the end of the file"
                raise InputError(path, f"expected {what}, got {found} (file truncated?)", line)
            take(char)
            return char

        if skip_space() == "{":
            take("{")
            while True:
                if skip_space() == "}":
                    raise InputError(path, "a JSON object holding no array of users", line)
                if skip_space() != '"':
                    expect('"', "a key in quotes")
                decode()  # the key
                expect(":", "':' after a key")
                if skip_space() == "[":
                    break
                decode()  # a value before the users: skipped
                if expect(",}", "',' or '}'") == "}":
                    raise InputError(path, "a JSON object holding no array of users", line)
        if skip_space() != "[":
            raise InputError(path, "expected a JSON array of objects (or JSON Lines: .jsonl)", line)
        take("[")
        if skip_space() == "]":
            return
        while True:
            if not skip_space():
                raise InputError(path, "the JSON array is not closed (file truncated?)", line)
            value, start = decode()
            yield _scalar_row(value, path, start)
            if expect(",]", "',' or ']' in the array") == "]":
                return


class JoinIndex:
    """A joined file's rows by key, in a temporary SQLite file: one-to-many, in file order.

    The file is read once when the index is built; a lookup is one indexed query.
    """

    def __init__(self, source: Source, key: str, *, directory: str | None = None) -> None:
        self.source = source
        self.key = key
        self.problems: list[tuple[int, str]] = []
        self.rows = 0
        handle, self.db_path = tempfile.mkstemp(suffix=".sqlite3", prefix="patronsync-join-",
                                                dir=directory)  # fmt: skip
        os.close(handle)
        self.db = sqlite3.connect(self.db_path)
        self.db.execute("PRAGMA journal_mode=OFF")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute(
            "CREATE TABLE rows (seq INTEGER PRIMARY KEY, key TEXT, line INT, data TEXT)"
        )
        if source.columns is not None and key not in source.columns:
            self.close()
            raise InputError(source.path, f"the join key column {key!r} is not in the header "
                             f"(columns: {', '.join(source.columns)})", 1)  # fmt: skip
        batch: list[tuple[str, int, str]] = []
        for row in source.rows:
            if row.problem:
                self.problems.append((row.line, row.problem))
                continue
            value = row.values.get(key)
            if value is None or value == "":
                self.problems.append((row.line, f"the join key {key!r} is empty"))
                continue
            batch.append((str(value).strip(), row.line, json.dumps(row.values)))
            self.rows += 1
            if len(batch) >= 10_000:
                self.db.executemany("INSERT INTO rows (key, line, data) VALUES (?, ?, ?)", batch)
                batch.clear()
        if batch:
            self.db.executemany("INSERT INTO rows (key, line, data) VALUES (?, ?, ?)", batch)
        self.db.execute("CREATE INDEX rows_key ON rows (key, seq)")
        self.db.commit()

    def lookup(self, value: Any) -> list[tuple[int, dict[str, Any]]]:
        """The rows whose key equals `value`, in file order, each with its line."""
        if value is None:
            return []
        cursor = self.db.execute(
            "SELECT line, data FROM rows WHERE key = ? ORDER BY seq", (str(value).strip(),)
        )
        return [(line, json.loads(data)) for line, data in cursor]

    def close(self) -> None:
        """Drop the temporary file."""
        self.db.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.db_path)
