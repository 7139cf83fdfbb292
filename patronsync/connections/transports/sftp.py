"""The SFTP transport (paramiko): the university's SSH server, as Alma's "Ftp Server Secured:
SFTP".

It logs in with the definition's key (its own Ed25519 key pair, whose public key the server's
administrator installs in `authorized_keys`), then with its password, whichever the definition
has; with both, the key is tried first. The server's key is checked against the pinned
fingerprint before anything is sent (`connections.hostkeys`), and pinned at the first login
that works.

Without navigation every path stays inside the sub-directory as the server resolves it
(`realpath`): an input path that is absolute or climbs out with `..` is refused, and so is a
folder or file that is a symbolic link leading out of it.
"""

from __future__ import annotations

import contextlib
import io
import posixpath
import socket
import stat
from pathlib import Path
from typing import TYPE_CHECKING

import paramiko

from patronsync.connections import hostkeys

from .base import (
    HANDLED_SUFFIX,
    ErrorKind,
    RemoteFile,
    RemoteTransport,
    TransportError,
    file_name_checked,
    folder_joined,
    navigation_refused,
    path_inside,
    server_label,
    transport_timeout,
    upload_part_name,
)

if TYPE_CHECKING:
    from patronsync.connections.models import Connection

KEY_CLASSES: tuple[type[paramiko.PKey], ...] = (
    paramiko.Ed25519Key,
    paramiko.ECDSAKey,
    paramiko.RSAKey,
)


class SftpTransport(RemoteTransport):
    """Lists, downloads and renames files of `sub_directory` on an SSH server."""

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection)
        self._ssh: paramiko.Transport | None = None
        self._sftp: paramiko.SFTPClient | None = None
        self._base = ""  # the sub-directory as the server resolved it
        self.fingerprint = ""  # of the server's key, once connected
        self.logged_in_with = ""  # "key" or "password"

    # The session.

    def _handshake(self) -> paramiko.Transport:
        """A started SSH transport to the server, not logged in."""
        connection, timeout = self.connection, transport_timeout()
        sock = socket.create_connection((connection.server, connection.port or 22), timeout)
        ssh = paramiko.Transport(sock)
        ssh.banner_timeout = ssh.handshake_timeout = ssh.auth_timeout = timeout
        try:
            # A little longer than the banner's timeout, so that a silent server ends as that.
            ssh.start_client(timeout=timeout + 1)
            if not (ssh.is_active() and ssh.initial_kex_done):  # paramiko gave up waiting
                raise TimeoutError("the SSH handshake did not finish in time")
            self.fingerprint = hostkeys.ssh_key_fingerprint(ssh.get_remote_server_key().asbytes())
        except BaseException:
            ssh.close()
            raise
        return ssh

    def _open(self) -> None:
        connection = self.connection
        ssh = self._handshake()
        try:
            # Before the login: a server that is not the pinned one gets no password.
            hostkeys.host_key_verify(connection=connection, fingerprint=self.fingerprint)
            self._login(ssh)
            sftp = paramiko.SFTPClient.from_transport(ssh)
            if sftp is None:
                raise paramiko.SSHException("the server opened no SFTP session")
            channel = sftp.get_channel()
            if channel is not None:
                channel.settimeout(transport_timeout())
            self._base = sftp.normalize(connection.sub_directory or ".")
            if not connection.host_key_fingerprint:
                hostkeys.host_key_pin(connection=connection, fingerprint=self.fingerprint)
        except BaseException:
            ssh.close()
            raise
        self._ssh, self._sftp = ssh, sftp

    def _login(self, ssh: paramiko.Transport) -> None:
        """Log in with the key, then the password, as the definition has them."""
        connection = self.connection
        tried = []
        if connection.private_key:
            tried.append("the definition's key")
            with contextlib.suppress(paramiko.AuthenticationException):
                ssh.auth_publickey(connection.username, self._private_key())
            if ssh.is_authenticated():
                self.logged_in_with = "key"
                return
        if connection.password:
            tried.append("the password")
            with contextlib.suppress(paramiko.AuthenticationException):
                ssh.auth_password(connection.username, connection.password)
            if ssh.is_authenticated():
                self.logged_in_with = "password"
                return
        if not tried:
            plain = "the definition has neither a password nor a key to log in with"
        else:
            plain = f"the server refused the login of {connection.username} with " + (
                " and with ".join(tried)
            )
            if connection.private_key:
                plain += (
                    f" (is the public key of `patronsync connection pubkey {connection.name}` "
                    "in the account's authorized_keys?)"
                )
        raise TransportError.of(connection, kind=ErrorKind.AUTH, plain=plain)

    def _private_key(self) -> paramiko.PKey:
        for key_class in KEY_CLASSES:
            try:
                return key_class.from_private_key(io.StringIO(self.connection.private_key))
            except (paramiko.SSHException, ValueError):
                continue
        raise TransportError.of(
            self.connection,
            kind=ErrorKind.AUTH,
            plain="the definition's private key cannot be read (an OpenSSH private key without "
            "passphrase is expected)",
        )

    def _is_open(self) -> bool:
        return self._sftp is not None and self._ssh is not None and self._ssh.is_active()

    def _drop(self) -> None:
        sftp, ssh, self._sftp, self._ssh = self._sftp, self._ssh, None, None
        for part in (sftp, ssh):
            if part is not None:
                with contextlib.suppress(Exception):  # closing a session that already broke
                    part.close()

    @property
    def sftp(self) -> paramiko.SFTPClient:
        assert self._sftp is not None, "opened by _attempt"
        return self._sftp

    # Paths, confined.

    def _folder(self, folder: str) -> str:
        """The real path of the input folder; refused when it leads out of the sub-directory
        and the definition does not allow navigation."""
        connection = self.connection
        real = self.sftp.normalize(folder_joined(connection, self._base, folder))
        if not connection.allow_navigation and not path_inside(real, self._base):
            raise navigation_refused(
                connection, folder, why=f"leads to {real}, outside {self._base} (a symbolic link)"
            )
        if not stat.S_ISDIR(self.sftp.stat(real).st_mode or 0):
            raise TransportError.of(
                connection, kind=ErrorKind.MISSING, plain=f"{real} is not a folder"
            )
        return real

    def _entry(self, folder: str, name: str) -> str:
        """The real path of file `name` of the real folder `folder`, confined like folders."""
        connection = self.connection
        real = self.sftp.normalize(posixpath.join(folder, name))
        if not connection.allow_navigation and not path_inside(real, self._base):
            raise navigation_refused(
                connection,
                posixpath.join(folder, name),
                why=f"is a symbolic link to {real}, outside {self._base}; it is not taken",
            )
        return real

    # The operations.

    def list(self, folder: str) -> list[RemoteFile]:
        def listing() -> list[RemoteFile]:
            real = self._folder(folder)
            files = []
            for attr in sorted(self.sftp.listdir_attr(real), key=lambda a: a.filename):
                name = attr.filename
                if not name.lower().endswith(".zip"):
                    continue
                if stat.S_ISLNK(attr.st_mode or 0):
                    attr = self.sftp.stat(self._entry(real, name))  # a link out stops the listing
                if stat.S_ISREG(attr.st_mode or 0):
                    files.append(RemoteFile(name=name, size=attr.st_size or 0))
            return files

        files = self._attempt(f"listing folder {folder or '(sub-directory)'}", listing)
        self.listed.update({(folder, f.name): f.size for f in files})
        return files

    def fetch(self, folder: str, name: str, workdir: Path) -> Path:
        file_name_checked(self.connection, name)

        def download() -> Path:
            source = self._entry(self._folder(folder), name)
            return self._download(
                folder,
                name,
                workdir,
                copy=lambda out: self.sftp.getfo(source, out),
                size_now=lambda: self.sftp.stat(source).st_size,
            )

        return self._attempt(f"downloading {name}", download)

    def mark_handled(self, folder: str, name: str) -> None:
        file_name_checked(self.connection, name)

        def rename() -> None:
            source = posixpath.join(self._folder(folder), name)  # a link is renamed, not its file
            target = source + HANDLED_SUFFIX
            try:
                self.sftp.rename(source, target)
            except OSError as exc:
                if self._renamed_already(source, target):  # an attempt whose answer was lost
                    return
                if exc.errno is not None:  # no such file, permission denied: said as such
                    raise
                # OpenSSH answers only "Failure": say what it usually means.
                raise TransportError.of(
                    self.connection,
                    kind=ErrorKind.PERMISSION,
                    plain=(
                        f"the server refused to rename {name} to {name}{HANDLED_SUFFIX} (is "
                        f"there a {name}{HANDLED_SUFFIX} already?)"
                    ),
                    server_says=str(exc),
                ) from exc

        self._attempt(f"renaming {name} to {name}{HANDLED_SUFFIX}", rename)

    def _replace(self, source: str, target: str) -> None:
        """Rename `source` to `target`, replacing it: atomically with OpenSSH's posix-rename;
        on a server without it, the old `target` is removed first (for a moment there is no
        file of that name, but never a partial one)."""
        try:
            self.sftp.posix_rename(source, target)
            return
        except OSError as exc:
            if exc.errno is not None:  # no such file, permission denied: said as such
                raise
        with contextlib.suppress(FileNotFoundError):
            self.sftp.remove(target)
        self.sftp.rename(source, target)

    def upload(self, folder: str, name: str, source: Path) -> RemoteFile:
        file_name_checked(self.connection, name)
        size = source.stat().st_size

        def put() -> None:
            real = self._folder(folder)
            part = posixpath.join(real, upload_part_name(name))
            with source.open("rb") as stream:
                self.sftp.putfo(stream, part, file_size=size, confirm=False)
            landed = self.sftp.stat(part).st_size
            if landed != size:
                with contextlib.suppress(OSError):
                    self.sftp.remove(part)
                raise self.upload_size_refused(name, landed=landed, size=size)
            self._replace(part, posixpath.join(real, name))  # a link is replaced, not followed

        self._attempt(f"uploading {name}", put)
        return RemoteFile(name=name, size=size)

    def rename(self, folder: str, name: str, new_name: str) -> None:
        file_name_checked(self.connection, name)
        file_name_checked(self.connection, new_name)

        def move() -> None:
            real = self._folder(folder)
            self._replace(posixpath.join(real, name), posixpath.join(real, new_name))

        self._attempt(f"renaming {name} to {new_name}", move)

    def _renamed_already(self, source: str, target: str) -> bool:
        try:
            self.sftp.lstat(source)
        except FileNotFoundError:
            try:
                return stat.S_ISREG(self.sftp.lstat(target).st_mode or 0)
            except OSError:
                return False
        return False

    def test(self, folder: str = "") -> str:
        files = self.list(folder)
        real = self._attempt("reading the folder", lambda: self._folder(folder))
        connection = self.connection
        return (
            f"{server_label(connection)}: logged in as {connection.username} with the "
            f"{self.logged_in_with}; server key {self.fingerprint}"
            f"{' (pinned)' if connection.host_key_fingerprint else ''}; folder {real}: "
            f"{len(files)} zip file(s) waiting"
        )

    def probe_fingerprint(self) -> str:
        def probe() -> str:
            self._handshake().close()
            return self.fingerprint

        return self._attempt("reading the server's key", probe, login=False)
