"""The protocol every transport follows (list, fetch, mark_handled, test), its errors, the
retries of remote servers, and the confinement of paths to a definition's sub-directory."""

from __future__ import annotations

import errno
import ftplib
import logging
import os
import posixpath
import socket
import ssl
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

import paramiko
from django.conf import settings

from patronsync.core.exceptions import ConfigurationError

if TYPE_CHECKING:
    from patronsync.connections.models import Connection

HANDLED_SUFFIX = ".handled"
# An upload is written under `.NAME.part` and renamed to NAME once whole: hidden, and not a
# `*.zip`, so no listing (patronsync's, Alma's) takes a file still arriving.
UPLOAD_PART_SUFFIX = ".part"


def upload_part_name(name: str) -> str:
    """The name an upload of `name` has until it is whole: `.NAME.part`."""
    return f".{name}{UPLOAD_PART_SUFFIX}"


# Settings, read when used (tests change them); see docs/transports.md.
RETRIES_SETTING = "PATRONSYNC_TRANSPORT_RETRIES"  # attempts of an operation, the first included
BACKOFF_SETTING = "PATRONSYNC_TRANSPORT_BACKOFF_SECONDS"  # the first wait, doubled each time
TIMEOUT_SETTING = "PATRONSYNC_TRANSPORT_TIMEOUT"  # seconds to connect, and per read or write
DEFAULT_RETRIES = 3
DEFAULT_BACKOFF_SECONDS = 2.0
DEFAULT_TIMEOUT_SECONDS = 30.0

T = TypeVar("T")


class ErrorKind:
    """What went wrong, in the words `patronsync connection test` and job reports use."""

    DNS = "dns"  # the server's name is unknown
    REFUSED = "refused"  # nothing listens on the port
    TIMEOUT = "timeout"
    AUTH = "auth"  # the login was refused
    HOST_KEY = "host_key"  # the server's key or certificate is not the pinned one
    PERMISSION = "permission"
    MISSING = "missing"  # no such folder or file
    TLS = "tls"
    SIZE = "size"  # the download's size is not the listing's
    NAVIGATION = "navigation"  # a path leaves the definition's sub-directory
    OTHER = "other"


class TransportError(ConfigurationError):
    """A server could not be reached or did not do what was asked.

    `kind` is one of ErrorKind; `server_says` the server's own words when it gave some (FTP's
    `550 ...`); `transient` whether trying again may work (a reset connection, a timeout), in
    which case the remote transports retry with backoff. The message names the connection and
    the server and never holds a password or a key.
    """

    def __init__(
        self, message: str, *, kind: str, transient: bool = False, server_says: str = ""
    ) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.transient = transient
        self.server_says = server_says

    @classmethod
    def of(
        cls,
        connection: Connection,
        *,
        kind: str,
        plain: str,
        server_says: str = "",
        transient: bool = False,
    ) -> TransportError:
        """An error of `connection` in plain words, then the server's, without its secrets."""
        message = f"Connection {connection.name} ({server_label(connection)}): {plain}"
        if server_says:
            message += f"; the server said: {server_says}"
        message, server_says = secrets_scrubbed(connection, message, server_says)
        return cls(message, kind=kind, transient=transient, server_says=server_says)


def server_label(connection: Connection) -> str:
    """`SFTP server sftp.example.edu:22`, or the folder of a local connection."""
    if connection.transport == "local":
        return f"local folder {connection.sub_directory}"
    port = connection.port or (22 if connection.transport == "sftp" else 21)
    return f"{connection.get_transport_display()} server {connection.server}:{port}"


def secrets_scrubbed(connection: Connection, *texts: str) -> tuple[str, ...]:
    """`texts` with the connection's password and private key cut out, should a server or a
    library ever repeat them."""
    hidden = [s for s in (connection.password, connection.private_key) if s and len(s) >= 4]
    out = []
    for text in texts:
        for secret in hidden:
            text = text.replace(secret, "***")
        out.append(text)
    return tuple(out)


def _setting(name: str, default: Any) -> Any:
    value = getattr(settings, name, None)
    return default if value is None or value == "" else value


def transport_retries() -> int:
    return max(1, int(_setting(RETRIES_SETTING, DEFAULT_RETRIES)))


def transport_backoff() -> float:
    return max(0.0, float(_setting(BACKOFF_SETTING, DEFAULT_BACKOFF_SECONDS)))


def transport_timeout() -> float:
    return max(1.0, float(_setting(TIMEOUT_SETTING, DEFAULT_TIMEOUT_SECONDS)))


# Translating the exceptions of sockets, ssl, paramiko and ftplib --------------------------------


def _ftp_reply(exc: ftplib.Error) -> tuple[int, str]:
    text = str(exc).strip()
    code = text[:3]
    return (int(code) if code.isdigit() else 0), text


def error_translated(exc: BaseException, *, connection: Connection, doing: str) -> TransportError:
    """`exc`, raised while `doing` ("listing folder /upload", ...), as a TransportError in plain
    words, with the server's own when it gave some."""
    if isinstance(exc, TransportError):
        return exc

    def error(kind: str, plain: str, *, says: str = "", transient: bool = False) -> TransportError:
        return TransportError.of(
            connection, kind=kind, plain=f"{plain} ({doing})", server_says=says, transient=transient
        )

    server = connection.server
    if isinstance(exc, socket.gaierror):
        transient = exc.errno == socket.EAI_AGAIN
        return error(ErrorKind.DNS, f"the name {server} is unknown (DNS)", transient=transient)
    if isinstance(exc, ConnectionRefusedError):
        return error(
            ErrorKind.REFUSED,
            f"the connection was refused: nothing answers on port {connection.port} of {server}",
        )
    if isinstance(exc, TimeoutError | socket.timeout):
        return error(ErrorKind.TIMEOUT, "the server did not answer in time", transient=True)
    if isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        return error(ErrorKind.TLS, "the server closed the TLS connection", transient=True)
    if isinstance(exc, ssl.SSLError):
        return error(ErrorKind.TLS, "the TLS connection failed", says=str(exc.reason or exc))
    if isinstance(exc, ConnectionError | EOFError):  # reset, aborted, broken pipe, closed
        return error(ErrorKind.OTHER, "the connection was dropped", transient=True)
    if isinstance(exc, paramiko.BadHostKeyException):
        return error(ErrorKind.HOST_KEY, "the server's key is not the pinned one")
    if isinstance(exc, paramiko.AuthenticationException):
        return error(
            ErrorKind.AUTH,
            f"the server refused the login of {connection.username}",
            says=str(exc),
        )
    if isinstance(exc, paramiko.SSHException):
        text = str(exc)
        lowered = text.lower()
        if "banner" in lowered and isinstance(exc.__context__, TimeoutError | socket.timeout):
            return error(ErrorKind.TIMEOUT, "the server did not answer in time", transient=True)
        if "banner" in lowered:
            return error(
                ErrorKind.OTHER,
                f"port {connection.port} of {server} does not answer as an SSH server",
                says=text,
            )
        if "incompatible" in lowered or "no acceptable" in lowered:
            return error(ErrorKind.OTHER, "no common SSH algorithm", says=text)
        return error(ErrorKind.OTHER, "the SSH connection failed", says=text, transient=True)
    if isinstance(exc, ftplib.error_perm):
        code, text = _ftp_reply(exc)
        lowered = text.lower()
        if code in (530, 532):
            return error(
                ErrorKind.AUTH, f"the server refused the login of {connection.username}", says=text
            )
        missing_words = ("no such", "not found", "exist", "cannot find")  # IIS: "cannot find"
        if code == 550 and any(words in lowered for words in missing_words):
            return error(ErrorKind.MISSING, "no such folder or file", says=text)
        if code in (550, 553) or "permi" in lowered or "denied" in lowered:
            return error(ErrorKind.PERMISSION, "the server did not allow it", says=text)
        return error(ErrorKind.OTHER, "the server refused the command", says=text)
    if isinstance(exc, ftplib.error_temp):  # 4xx: try again later
        return error(ErrorKind.OTHER, "the server failed for now", says=_ftp_reply(exc)[1],
                     transient=True)  # fmt: skip
    if isinstance(exc, ftplib.Error):
        return error(ErrorKind.OTHER, "the server answered unexpectedly", says=str(exc))
    if isinstance(exc, FileNotFoundError):
        return error(ErrorKind.MISSING, "no such folder or file", says=_os_words(exc))
    if isinstance(exc, PermissionError):
        return error(ErrorKind.PERMISSION, "permission denied", says=_os_words(exc))
    if isinstance(exc, OSError):
        if exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
            return error(ErrorKind.REFUSED, f"{server} cannot be reached from here")
        if exc.errno in (errno.EEXIST, errno.EISDIR, errno.ENOTEMPTY):
            return error(ErrorKind.PERMISSION, "the target already exists", says=_os_words(exc))
        return error(ErrorKind.OTHER, "the operation failed", says=_os_words(exc))
    return error(ErrorKind.OTHER, "the operation failed", says=f"{type(exc).__name__}: {exc}")


def _os_words(exc: OSError) -> str:
    return str(exc.strerror or exc.args[-1] if exc.args else exc)


# Errors any transport may raise; anything else is a bug and is left to surface as one.
TRANSPORT_EXCEPTIONS: tuple[type[BaseException], ...] = (
    OSError,  # sockets, ssl, timeouts, paramiko's SFTP errors
    EOFError,
    ftplib.Error,
    paramiko.SSHException,
)


# Confinement to the sub-directory ----------------------------------------------------------


def path_climbs_out(path: str) -> bool:
    """Whether a relative input path names something outside the folder it is taken from: an
    absolute path (`/etc`, `\\\\server`, `C:`, `~`), or `..` steps that climb above it."""
    if path.startswith(("/", "\\", "~")) or (len(path) > 1 and path[1] == ":"):
        return True
    normal = posixpath.normpath(path.replace("\\", "/"))
    return normal == ".." or normal.startswith("../")


def path_inside(path: str, folder: str) -> bool:
    """Whether the normalized posix `path` is `folder` or lies under it."""
    folder = folder.rstrip("/") or "/"
    return path == folder or path.startswith(folder if folder == "/" else folder + "/")


def navigation_refused(connection: Connection, path: str, *, why: str) -> TransportError:
    return TransportError.of(
        connection,
        kind=ErrorKind.NAVIGATION,
        plain=(
            f"{path!r} {why}; the definition does not allow navigation, so every path stays "
            f"inside its sub-directory {connection.sub_directory or '(the login folder)'}"
        ),
    )


def file_name_checked(connection: Connection, name: str) -> str:
    """`name` when it is a plain file name (no folder, no `..`), as listings give them."""
    if not name or name in {".", ".."} or any(c in name for c in "/\\\0\r\n"):
        raise TransportError.of(
            connection, kind=ErrorKind.NAVIGATION, plain=f"{name!r} is not a file name"
        )
    return name


def folder_joined(connection: Connection, base: str, folder: str) -> str:
    """The remote folder `folder` names, relative to `base` (the sub-directory as the server
    resolved it), normalized. Without navigation an absolute `folder` or one whose `..`
    climbs out of `base` is refused; with it, relative paths still start from `base`."""
    if any(c in folder for c in "\0\r\n"):
        raise TransportError.of(
            connection, kind=ErrorKind.NAVIGATION, plain=f"{folder!r} is not a folder name"
        )
    if not connection.allow_navigation and path_climbs_out(folder):
        raise navigation_refused(connection, folder, why="leaves the sub-directory")
    return posixpath.normpath(posixpath.join(base, folder.replace("\\", "/"))) if folder else base


@dataclass(frozen=True, slots=True)
class RemoteFile:
    """A file waiting in an input folder."""

    name: str
    size: int


class Transport:
    """Base of the transports. Subclasses implement the four operations for their server.

    A transport may hold a connection to its server between operations: use it as a context
    manager (or call `close()`) so that the connection is closed at the end. `logger` is where
    it says that it retries; the job runner gives it the job's.
    """

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.logger: logging.Logger | logging.LoggerAdapter[logging.Logger] = logging.getLogger(
            __name__
        )

    def __enter__(self) -> Transport:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection to the server, if one is open."""

    def list(self, folder: str) -> list[RemoteFile]:
        """The `*.zip` files in `folder` not yet marked handled, by name."""
        raise NotImplementedError

    def fetch(self, folder: str, name: str, workdir: Path) -> Path:
        """A local path to read the file from: downloaded into `workdir` if it is remote."""
        raise NotImplementedError

    def mark_handled(self, folder: str, name: str) -> None:
        """Rename `name` to `name.handled`, as Alma does, so it is never taken again."""
        raise NotImplementedError

    def test(self, folder: str = "") -> str:
        """Check the connection and say what was found; raise ConfigurationError if it fails."""
        raise NotImplementedError

    def upload(self, folder: str, name: str, source: Path) -> RemoteFile:
        """Put the local file `source` into `folder` as `name`, atomically: it is written as
        `.NAME.part` (`upload_part_name`), its size on the server checked against the local
        one, then renamed to `name`, replacing a file of that name. A listing never shows a
        file that is still arriving, and an upload that fails leaves at most the `.part`."""
        raise NotImplementedError

    def rename(self, folder: str, name: str, new_name: str) -> None:
        """Rename the file `name` of `folder` to `new_name`, replacing a file of that name."""
        raise NotImplementedError

    def probe_fingerprint(self) -> str:
        """The fingerprint of the key (or certificate) the server shows now, unchecked."""
        raise TransportError.of(
            self.connection,
            kind=ErrorKind.OTHER,
            plain=(
                f"{self.connection.get_transport_display()} connections have no server key to "
                "pin or trust; only SFTP and FTPS servers have one"
            ),
        )


# What an attempt of a remote operation may end with: the errors above, and patronsync's own
# (a download short of its listing is transient too).
ATTEMPT_EXCEPTIONS: tuple[type[BaseException], ...] = (TransportError, *TRANSPORT_EXCEPTIONS)


class RemoteTransport(Transport):
    """A transport that logs in to a server and keeps the session between operations.

    Every operation runs through `_attempt`: a transient failure (a reset connection, a
    timeout, a connection dropped mid-download) closes the session and tries again on a new
    one, after a wait that doubles each time (PATRONSYNC_TRANSPORT_BACKOFF_SECONDS), up to
    PATRONSYNC_TRANSPORT_RETRIES attempts. Anything else (a refused login, a changed host key,
    a missing folder, a permission) is raised at once: trying again would not help.
    """

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection)
        self.listed: dict[tuple[str, str], int] = {}  # sizes of the last listing, by folder, name

    # What each kind of server implements.

    def _open(self) -> None:
        """Connect, check the server's key, log in."""
        raise NotImplementedError

    def _is_open(self) -> bool:
        raise NotImplementedError

    def _drop(self) -> None:
        """Close the session, whatever state it is in; never raises."""
        raise NotImplementedError

    def close(self) -> None:
        self._drop()

    def _attempt(self, doing: str, operation: Callable[[], T], *, login: bool = True) -> T:
        """`operation()` on an open session (none unless `login`), retried on transient errors
        (see the class)."""
        attempts = transport_retries()
        for attempt in range(1, attempts + 1):
            try:
                if login and not self._is_open():
                    self._open()
                return operation()
            except ATTEMPT_EXCEPTIONS as exc:
                error = error_translated(exc, connection=self.connection, doing=doing)
            self._drop()
            if not error.transient or attempt == attempts:
                if error.transient:
                    error.message += f" (after {attempts} attempts)"
                    error.args = (error.message,)
                raise error from None
            wait = transport_backoff() * 2 ** (attempt - 1)
            self.logger.warning(
                "%s; attempt %s of %s failed, trying again in %.0f s",
                error.message,
                attempt,
                attempts,
                wait,
            )
            time.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def expected_size(self, folder: str, name: str) -> int | None:
        """The size `name` had in the last listing of `folder`, if it was listed."""
        return self.listed.get((folder, name))

    def _download(
        self,
        folder: str,
        name: str,
        workdir: Path,
        *,
        copy: Callable[[BinaryIO], object],
        size_now: Callable[[], int | None],
    ) -> Path:
        """`workdir / name`, written by `copy(out)` into a temporary file of `workdir` that is
        renamed into place only once its size is the listing's (or, for a file not listed,
        `size_now()`'s, asked before the download); a download that fails or falls short
        leaves no file."""
        expected = self.expected_size(folder, name)
        if expected is None:
            expected = size_now()
        handle, part = tempfile.mkstemp(dir=workdir, prefix=".download-", suffix=".zip")
        try:
            with os.fdopen(handle, "wb") as out:
                copy(out)
            self.size_checked(folder, name, Path(part), expected)
        except BaseException:
            Path(part).unlink(missing_ok=True)
            raise
        return Path(part).rename(workdir / name)

    def upload_size_refused(self, name: str, *, landed: int | None, size: int) -> TransportError:
        """The error of an upload whose copy on the server is not the local file's size
        (transient: the next attempt uploads it again)."""
        came = f"{landed:,}" if landed is not None else "an unknown number of"
        return TransportError.of(
            self.connection,
            kind=ErrorKind.SIZE,
            plain=(
                f"{name} came to {came} bytes on the server where the local file has {size:,}; "
                "it was not put in place"
            ),
            transient=True,
        )

    def size_checked(self, folder: str, name: str, path: Path, expected: int | None) -> Path:
        """`path` when its size is the listing's; otherwise it is deleted and a transient
        TransportError raised (the file may have been still uploading: the next attempt, or
        run, takes it whole)."""
        size = path.stat().st_size
        if expected is not None and size != expected:
            path.unlink(missing_ok=True)
            raise TransportError.of(
                self.connection,
                kind=ErrorKind.SIZE,
                plain=(
                    f"{name} in {folder or '(the sub-directory)'} came to {size:,} bytes where the "
                    f"listing said {expected:,}; it is not loaded"
                ),
                transient=True,
            )
        return path
