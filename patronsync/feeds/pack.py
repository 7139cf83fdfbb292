"""Pack feed files into zips within Alma's limits, with a manifest of counts and sha256 sums.

Alma (and patronsync's own file-taking) refuses a zip of more than 50 entries or one that
expands to more than 4 GB, and universities split their users into XML files of a fixed size
(Portland State: 20,000 users a file). `feed_pack` reads any number of XML files or zips, a
user at a time, and writes `<prefix>-0001.zip`, `<prefix>-0002.zip` ... each holding at most
`max_files_per_zip` XML files (`<prefix>-0001-001.xml` ...) of at most `users_per_file` users,
and expanding to at most `max_zip_bytes`. Each user's bytes are copied as they are in the input
(an element with a namespace is written without it), so that packing changes no user's hash.

Every user is checked (as leniently as a job reads them, or strictly against the XSD), and so is
the feed: a primary ID given twice would be rejected by a job in one file, but not when the two
users land in different zips. A feed with an error is not packed unless `keep_invalid`; a file
that cannot be read is never packed. Output is written into a hidden folder of `DIR` and moved
into place at the end, so a failed run leaves the previous pack as it was.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from lxml import etree

from patronsync.almaxml.decode import Issues, decode_user, local_name
from patronsync.almaxml.errors import Problem, Severity
from patronsync.almaxml.reader import RawUser, iter_raw_users
from patronsync.almaxml.sources import DEFAULT_LIMITS, Limits
from patronsync.almaxml.validation import validate_user
from patronsync.feeds.index import UserIndex

MAX_FILES_PER_ZIP = 50  # Alma's limit of entries in a zip
MAX_ZIP_BYTES = 4 * 1024**3  # Alma's limit: a zip expands to at most 4 GB
USERS_PER_FILE = 20_000
MANIFEST = "manifest.json"
MANIFEST_VERSION = 1

# What is read from the inputs: a zip made by an export may hold more files than Alma takes
# (that is what packing is for); a zip bomb and a hostile entry name are still refused.
INPUT_LIMITS = Limits(
    max_total_bytes=1024**5,
    max_xml_entries=1_000_000,
    max_entries=1_000_000,
    max_ratio=DEFAULT_LIMITS.max_ratio,
    ratio_min_bytes=DEFAULT_LIMITS.ratio_min_bytes,
    max_user_bytes=DEFAULT_LIMITS.max_user_bytes,
)
HEADER = b'<?xml version="1.0" encoding="UTF-8"?>\n<users>\n'
FOOTER = b"</users>\n"
_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
COPY_BYTES = 1024 * 1024


class PackError(Exception):
    """The options cannot be packed with (a bad prefix, an output folder in the way)."""


@dataclass(slots=True)
class PackedFile:
    """One XML file of a zip."""

    name: str
    users: int
    bytes: int
    sha256: str


@dataclass(slots=True)
class PackedZip:
    """One zip written, with its XML files."""

    name: str
    users: int = 0
    bytes: int = 0
    sha256: str = ""
    files: list[PackedFile] = field(default_factory=list)

    @property
    def expanded_bytes(self) -> int:
        """What the zip expands to: the sum of its XML files' sizes."""
        return sum(f.bytes for f in self.files)


@dataclass(slots=True)
class PackResult:
    """What `feed_pack` did: the zips (empty when it refused), problems, per-input counts."""

    output: Path
    zips: list[PackedZip] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    inputs: list[tuple[str, int]] = field(default_factory=list)
    users: int = 0
    file_errors: int = 0  # files (or zip entries) that could not be read to their end
    written: bool = False

    @property
    def errors(self) -> list[Problem]:
        """The problems of severity error."""
        return [p for p in self.problems if p.is_error]

    @property
    def manifest_path(self) -> Path:
        return self.output / MANIFEST


def sha256_of(path: Path) -> str:
    """The sha256 hex digest of a file, read a megabyte at a time."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(COPY_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _checked(elem: Any, strict: bool) -> list[tuple[Severity, str, str, int | None, str]]:
    """The decoder's (and in strict mode the XSD's) findings on a user, lines counted from
    the user's own start tag (1)."""
    issues = Issues(line_offset=1 - (elem.sourceline or 1))
    decode_user(elem, issues)
    if strict:
        validate_user(elem, issues)
    return issues.found


def _without_namespaces(raw: bytes) -> bytes:
    """A user's bytes with every element in no namespace, as `rest_users.xsd` wants them."""
    elem = etree.fromstring(raw, _SAFE_PARSER)
    for node in elem.iter():
        if isinstance(node.tag, str) and node.tag.startswith("{"):
            node.tag = local_name(node.tag)
    etree.cleanup_namespaces(elem)
    return etree.tostring(elem, encoding="utf-8", with_tail=False)


def _user_problems(user: RawUser) -> list[Problem]:
    position = user.position
    found = user.decoded or []
    primary_id = user.primary_id
    problems = [
        Problem(severity, code, message, position.file, position.entry,
                None if line is None else position.line + line - 1, primary_id, fld)
        for severity, code, fld, line, message in found
    ]  # fmt: skip
    return problems


def _looks_like_a_bomb(info: zipfile.ZipInfo) -> bool:
    """Whether a job would refuse the zip for this entry's compression ratio."""
    ratio = info.file_size / max(info.compress_size, 1)
    return info.file_size > DEFAULT_LIMITS.ratio_min_bytes and ratio > DEFAULT_LIMITS.max_ratio


class _Writer:
    """Writes the zips into `staging`, an XML file at a time; see the module."""

    def __init__(
        self,
        staging: Path,
        *,
        prefix: str,
        users_per_file: int,
        max_files_per_zip: int,
        max_zip_bytes: int,
    ) -> None:
        self.staging = staging
        self.prefix = prefix
        self.users_per_file = users_per_file
        self.max_files_per_zip = max_files_per_zip
        self.max_zip_bytes = max_zip_bytes
        self.zips: list[PackedZip] = []
        self._zip: zipfile.ZipFile | None = None
        self._file: IO[bytes] | None = None
        self._file_path = staging / ".current.xml"
        self._kept: list[tuple[str, Path]] = []  # the open zip's XML files, until it is closed
        self._stored: set[str] = set()  # its files to store uncompressed (see `_close_zip`)
        self._file_users = 0
        self._file_bytes = 0
        self._digest = hashlib.sha256()

    @property
    def _current(self) -> PackedZip:
        return self.zips[-1]

    def _zip_room(self) -> int:
        """Bytes the open zip may still expand by, its open XML file included."""
        used = self._current.expanded_bytes if self._zip is not None else 0
        return self.max_zip_bytes - used - self._file_bytes

    def add(self, raw: bytes) -> None:
        """Write one user's bytes, opening and closing files and zips as the limits say."""
        needed = len(raw) + 1  # and its newline
        if self._file is not None and (
            self._file_users >= self.users_per_file or needed + len(FOOTER) > self._zip_room()
        ):
            self._close_file()
        if self._zip is not None and (
            len(self._current.files) >= self.max_files_per_zip
            or len(HEADER) + needed + len(FOOTER) > self._zip_room()
        ):
            self._close_zip()
        if self._file is None:
            if len(HEADER) + needed + len(FOOTER) > self.max_zip_bytes:
                raise PackError(
                    f"a user of {len(raw):,} bytes does not fit in a zip of at most "
                    f"{self.max_zip_bytes:,} bytes: raise the maximum zip size"
                )
            self._open_file()
        self._write(raw)
        self._write(b"\n")
        self._file_users += 1

    def _write(self, data: bytes) -> None:
        assert self._file is not None
        self._file.write(data)
        self._digest.update(data)
        self._file_bytes += len(data)

    def _open_file(self) -> None:
        if self._zip is None:
            packed = PackedZip(f"{self.prefix}-{len(self.zips) + 1:04d}.zip")
            self.zips.append(packed)
            self._zip = zipfile.ZipFile(self.staging / packed.name, "w", zipfile.ZIP_DEFLATED)
        self._file = self._file_path.open("wb")
        self._file_users = self._file_bytes = 0
        self._digest = hashlib.sha256()
        self._write(HEADER)

    def _close_file(self) -> None:
        assert self._file is not None
        assert self._zip is not None
        self._write(FOOTER)
        self._file.close()
        self._file = None
        packed = self._current
        name = f"{self.prefix}-{len(self.zips):04d}-{len(packed.files) + 1:03d}.xml"
        self._zip.write(self._file_path, arcname=name)
        if _looks_like_a_bomb(self._zip.getinfo(name)):
            self._stored.add(name)
        kept = self._file_path.with_name(name)
        self._file_path.rename(kept)
        self._kept.append((name, kept))
        packed.files.append(PackedFile(name, self._file_users, self._file_bytes,
                                       self._digest.hexdigest()))  # fmt: skip
        packed.users += self._file_users
        self._file_bytes = 0

    def _close_zip(self) -> None:
        assert self._zip is not None
        self._zip.close()
        self._zip = None
        packed = self._current
        path = self.staging / packed.name
        if self._stored:
            # A file that compresses more than a job allows (`sources.Limits.max_ratio`) would
            # have the whole zip refused as a zip bomb: the zip is made again, that file stored.
            with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
                for name, kept in self._kept:
                    stored = name in self._stored
                    zf.write(kept, arcname=name,
                             compress_type=zipfile.ZIP_STORED if stored else None)  # fmt: skip
        for _, kept in self._kept:
            kept.unlink()
        self._kept, self._stored = [], set()
        packed.bytes = path.stat().st_size
        packed.sha256 = sha256_of(path)

    def finish(self) -> None:
        """Close the open file and zip."""
        if self._file is not None:
            self._close_file()
        if self._zip is not None:
            self._close_zip()

    def abandon(self) -> None:
        """Close what is open without finishing it (the staging folder is removed)."""
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._zip is not None:
            self._zip.close()
            self._zip = None


def _users(
    paths: Iterable[str | os.PathLike[str]], *, strict: bool, result: PackResult
) -> Iterator[RawUser]:
    for path in paths:
        reader = iter_raw_users(
            path,
            name=os.fspath(path),
            limits=INPUT_LIMITS,
            decode=lambda elem: _checked(elem, strict),
        )
        count = 0
        for user in reader:
            count += 1
            yield user
        result.problems.extend(reader.problems)
        result.file_errors += sum(1 for p in reader.problems if p.is_error)
        result.inputs.append((os.fspath(path), count))


def _previous_pack(output: Path, prefix: str) -> list[Path]:
    """What an earlier pack of `prefix` left in `output`: its zips, and the manifest."""
    pattern = re.compile(re.escape(prefix) + r"-\d{4,}\.zip")
    found = [p for p in output.iterdir() if pattern.fullmatch(p.name)] if output.is_dir() else []
    if (output / MANIFEST).exists():
        found.append(output / MANIFEST)
    return sorted(found)


def feed_pack(
    paths: Iterable[str | os.PathLike[str]],
    *,
    output: str | os.PathLike[str],
    prefix: str = "users",
    users_per_file: int = USERS_PER_FILE,
    max_files_per_zip: int = MAX_FILES_PER_ZIP,
    max_zip_bytes: int = MAX_ZIP_BYTES,
    strict: bool = False,
    keep_invalid: bool = False,
    replace: bool = False,
) -> PackResult:
    """Pack the users of `paths` into zips in `output`, with `manifest.json`; see the module.

    Raises PackError for options that cannot work, or when `output` holds an earlier pack
    (its zips and manifest are replaced only with `replace`). File- and user-level problems
    are returned in the result; when one is an error (and for user errors, `keep_invalid` is
    off), nothing is written and `result.written` is False.
    """
    if not _PREFIX.fullmatch(prefix):
        raise PackError(f"--prefix {prefix!r}: letters, digits, '.', '_' and '-' only")
    if users_per_file < 1:
        raise PackError("--users-per-file must be at least 1")
    if not 1 <= max_files_per_zip <= MAX_FILES_PER_ZIP:
        raise PackError(f"--files-per-zip must be between 1 and {MAX_FILES_PER_ZIP} (Alma's limit)")
    if not len(HEADER) + len(FOOTER) < max_zip_bytes <= MAX_ZIP_BYTES:
        raise PackError(f"--max-zip-bytes must be between 1 KB and {MAX_ZIP_BYTES:,} (4 GB)")
    out = Path(output)
    if out.exists() and not out.is_dir():
        raise PackError(f"-o {out}: not a folder")
    previous = _previous_pack(out, prefix)
    if previous and not replace:
        raise PackError(
            f"{out} holds an earlier pack ({', '.join(p.name for p in previous[:3])}"
            f"{' ...' if len(previous) > 3 else ''}): remove it, or pass --replace"
        )
    out.mkdir(parents=True, exist_ok=True)
    result = PackResult(output=out)
    staging = Path(tempfile.mkdtemp(prefix=".pack-", dir=out))
    writer = _Writer(
        staging,
        prefix=prefix,
        users_per_file=users_per_file,
        max_files_per_zip=max_files_per_zip,
        max_zip_bytes=max_zip_bytes,
    )
    try:
        with UserIndex() as seen:
            for user in _users(paths, strict=strict, result=result):
                result.users += 1
                result.problems.extend(_user_problems(user))
                primary_id = user.primary_id
                if primary_id:
                    earlier = seen.add(primary_id, str(user.position))
                    if earlier is not None:
                        result.problems.append(Problem(
                            "error", "DUPLICATE_IN_FEED",
                            f"primary ID given again (first at {earlier}): a job would reject "
                            "both", user.position.file, user.position.entry, user.position.line,
                            primary_id, "primary_id",
                        ))  # fmt: skip
                raw = user.raw
                if b"xmlns" in raw:
                    raw = _without_namespaces(raw)
                writer.add(raw)
            writer.finish()
        result.problems.sort(key=lambda p: (p.file or "", p.entry or "", p.line or 0))
        if result.file_errors or (result.errors and not keep_invalid) or not result.users:
            if not result.users and not result.errors:
                result.problems.append(
                    Problem("error", "FEED_EMPTY", "the input holds no users: nothing packed")
                )
            result.zips = []
            return result
        result.zips = writer.zips
        for old in previous:
            old.unlink()
        for packed in writer.zips:
            os.replace(staging / packed.name, out / packed.name)
        _write_manifest(result, users_per_file, max_files_per_zip, max_zip_bytes)
        result.written = True
        return result
    finally:
        writer.abandon()
        shutil.rmtree(staging, ignore_errors=True)


def _write_manifest(
    result: PackResult, users_per_file: int, max_files_per_zip: int, max_zip_bytes: int
) -> None:
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "created_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "users": result.users,
        "limits": {
            "users_per_file": users_per_file,
            "files_per_zip": max_files_per_zip,
            "max_zip_bytes": max_zip_bytes,
        },
        "inputs": [{"file": name, "users": users} for name, users in result.inputs],
        "zips": [
            {
                "name": z.name,
                "bytes": z.bytes,
                "expanded_bytes": z.expanded_bytes,
                "sha256": z.sha256,
                "users": z.users,
                "files": [
                    {"name": f.name, "bytes": f.bytes, "sha256": f.sha256, "users": f.users}
                    for f in z.files
                ],
            }
            for z in result.zips
        ],
    }
    temporary = result.manifest_path.with_name(f".{MANIFEST}.part")
    temporary.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, result.manifest_path)
