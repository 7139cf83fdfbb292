"""Deliver feed zips to the S/FTP server an integration profile reads, atomically.

The university's IT department runs `patronsync feed deliver` from cron after its export. Each
zip goes to the input folder of an S/FTP definition (its sub-directory, then the profile
section's input path, or a path given): written as `.NAME.zip.part` and renamed to `NAME.zip`
only once the server has all of it (the transports' `upload`), so a job that lists the folder
meanwhile never takes half a file: it takes `*.zip` only.

Every file is checked before anything is sent (it exists, is a zip that a job would open, is
within the definition's maximum file size), so a bad run sends nothing. The errors say which
step failed, and each maps to an exit code of the command (docs/feed-tools.md).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from patronsync.almaxml.errors import FeedError, Problem
from patronsync.almaxml.sources import DEFAULT_LIMITS, iter_parts
from patronsync.connections.models import Connection
from patronsync.connections.selectors import connection_get
from patronsync.connections.transports import transport_for
from patronsync.connections.transports.base import ErrorKind, RemoteFile, TransportError
from patronsync.core.exceptions import ConfigurationError, PatronsyncError
from patronsync.core.models import Institution
from patronsync.feeds.pack import MANIFEST, sha256_of
from patronsync.profiles.models import IntegrationProfile

logger = logging.getLogger(__name__)

SECTIONS = ("import", "synchronize")
# The failures that mean the server was not reached or did not let us in.
CONNECTION_KINDS = frozenset(
    {ErrorKind.DNS, ErrorKind.REFUSED, ErrorKind.TIMEOUT, ErrorKind.AUTH, ErrorKind.HOST_KEY,
     ErrorKind.TLS}
)  # fmt: skip


class DeliveryError(PatronsyncError):
    """A delivery that did not complete; `exit_code` is the command's (see the docs)."""

    exit_code = 1


class FileRefused(DeliveryError):
    """A file to deliver is missing, unreadable, not a zip a job would open, or too large;
    nothing was sent."""

    exit_code = 3


class ServerUnreachable(DeliveryError):
    """The server could not be reached, or refused the login or its key."""

    exit_code = 4


class UploadFailed(DeliveryError):
    """An upload or its rename failed; the files named in `delivered` arrived before it."""

    exit_code = 5

    def __init__(self, message: str, *, delivered: Sequence[str]) -> None:
        super().__init__(message)
        self.delivered = list(delivered)


@dataclass(frozen=True, slots=True)
class DeliveryTarget:
    """Where the zips go: a definition and a folder relative to its sub-directory."""

    connection: Connection
    folder: str

    def __str__(self) -> str:
        base = self.connection.sub_directory or "(login folder)"
        where = f"{base.rstrip('/')}/{self.folder}" if self.folder else base
        return f"connection {self.connection.name}, folder {where}"


def delivery_target(
    *,
    institution: Institution,
    connection_name: str | None,
    profile_code: str | None = None,
    section: str | None = None,
    path: str | None = None,
) -> DeliveryTarget:
    """The definition and folder that `--connection`, `--profile` with `--section`, and
    `--path` name; a ConfigurationError that names the option when they do not fit.

    With a profile, the folder is its section's input path (the path a job of that section
    lists) and the connection its definition's; `--connection`, if also given, must be it.
    """
    if profile_code is None:
        if section is not None:
            raise ConfigurationError("--section needs --profile (the profile whose section reads)")
        if connection_name is None:
            raise ConfigurationError("give --connection NAME, or --profile CODE --section ...")
        connection = connection_get(institution=institution, name=connection_name)
        return DeliveryTarget(connection, (path or "").strip())
    if path is not None:
        raise ConfigurationError("--path and --profile exclude each other: the profile says where")
    if section not in SECTIONS:
        raise ConfigurationError("--profile needs --section import or --section synchronize")
    profile = (
        IntegrationProfile.objects.select_related("connection")
        .filter(institution=institution, code=profile_code)
        .first()
    )
    if profile is None:
        codes = IntegrationProfile.objects.filter(institution=institution).values_list(
            "code", flat=True
        )
        raise ConfigurationError(
            f"--profile: institution {institution.code} has no profile {profile_code!r}; its "
            f"profiles: {', '.join(codes) or 'none'}"
        )
    connection = profile.connection
    if connection_name is not None and connection_name != connection.name:
        raise ConfigurationError(
            f"--connection {connection_name}: profile {profile.code} reads connection "
            f"{connection.name}"
        )
    folder = profile.import_input_path if section == "import" else profile.sync_input_path
    return DeliveryTarget(connection, folder.strip())


def _refused(path: Path, why: str) -> FileRefused:
    return FileRefused(f"{path}: {why}; nothing was delivered")


def _expanded(paths: Sequence[str | os.PathLike[str]]) -> Iterator[Path]:
    """The files given; a folder stands for the zips its `manifest.json` lists (a `feed pack`
    output), each checked against the manifest's size and sha256 first."""
    for given in paths:
        path = Path(given)
        if not path.is_dir():
            yield path
            continue
        manifest_path = path / MANIFEST
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            entries = [
                (str(z["name"]), int(z["bytes"]), str(z["sha256"])) for z in manifest["zips"]
            ]
        except FileNotFoundError:
            raise _refused(path, f"a folder without {MANIFEST} (give its zips, or a feed pack "
                           "output)") from None  # fmt: skip
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise _refused(manifest_path, f"not a feed pack manifest ({exc})") from None
        if not entries:
            raise _refused(manifest_path, "lists no zip")
        for name, size, sha256 in entries:
            zip_path = path / name
            if Path(name).name != name:
                raise _refused(manifest_path, f"{name!r} is not a file name")
            if not zip_path.is_file():
                raise _refused(zip_path, f"listed in {MANIFEST} but missing")
            if zip_path.stat().st_size != size or sha256_of(zip_path) != sha256:
                raise _refused(zip_path, f"not the file {MANIFEST} describes (its size or sha256 "
                               "differs): pack again")  # fmt: skip
            yield zip_path


def delivery_files_checked(
    *, paths: Sequence[str | os.PathLike[str]], connection: Connection
) -> list[Path]:
    """The files as paths, once each is known to be a zip a job would take: a plain file named
    `*.zip`, readable, within Alma's zip limits and the definition's maximum file size, its name
    given once. A folder stands for the zips of its feed pack manifest. FileRefused for the first
    that is not."""
    checked: list[Path] = []
    names: dict[str, Path] = {}
    for path in _expanded(paths):
        if not path.is_file():
            raise _refused(path, "no such file" if not path.exists() else "not a file")
        if not path.name.lower().endswith(".zip"):
            raise _refused(path, "not named *.zip: a profile takes only zip files")
        if path.name in names:
            raise _refused(path, f"a second file named {path.name} (first {names[path.name]})")
        names[path.name] = path
        size = path.stat().st_size
        if size > connection.max_file_bytes:
            raise _refused(
                path,
                f"{size:,} bytes, over the maximum file size of connection {connection.name} "
                f"({connection.max_file_size} {connection.size_type})",
            )
        problems: list[Problem] = []
        try:
            parts = list(iter_parts(path, name=path.name, limits=DEFAULT_LIMITS, problems=problems))
        except FeedError as exc:
            raise _refused(path, exc.problem.message) from None
        except OSError as exc:
            raise _refused(path, f"cannot be read: {exc.strerror or exc}") from None
        if parts and parts[0].entry is None:
            raise _refused(path, "not a zip file (a profile takes zips of XML files)")
        if not parts:
            raise _refused(path, "a zip without any XML file")
        checked.append(path)
    if not checked:
        raise FileRefused("no file to deliver")
    return checked


def feed_deliver(
    *,
    target: DeliveryTarget,
    paths: Sequence[str | os.PathLike[str]],
    on_delivered: Callable[[RemoteFile], object] | None = None,
) -> list[RemoteFile]:
    """Check every file, then upload each, in the order given, to `target`; see the module.

    Raises FileRefused (nothing sent), ConfigurationError (the server is not allowed, a local
    folder outside the roots), ServerUnreachable, or UploadFailed.
    """
    connection = target.connection
    files = delivery_files_checked(paths=paths, connection=connection)
    delivered: list[RemoteFile] = []
    try:
        with transport_for(connection) as transport:
            for path in files:
                remote = transport.upload(target.folder, path.name, path)
                logger.info("Delivered %s (%s bytes) to %s", path.name, remote.size, target)
                delivered.append(remote)
                if on_delivered is not None:
                    on_delivered(remote)
    except TransportError as exc:
        if exc.kind in CONNECTION_KINDS and not delivered:
            raise ServerUnreachable(exc.message) from None
        names = [d.name for d in delivered]
        before = f"; delivered before it: {', '.join(names)}" if names else "; nothing delivered"
        raise UploadFailed(exc.message + before, delivered=names) from None
    return delivered
