"""The FTP and FTPS transports (ftplib): Alma's "Ftp Server Secured: FTPS" and "none".

FTPS is explicit TLS (`AUTH TLS` on the FTP port, then `PROT P`: the files travel encrypted
too). Campus servers mostly have self-signed certificates, so the certificate is trusted by its
pinned fingerprint (`connections.hostkeys`), not by a certificate authority: the first login
that works pins it, a different certificate afterwards is refused before the password is sent,
and `patronsync connection trust NAME` accepts a renewed one. Plain FTP sends the password and
the files unencrypted; it is there for the servers that offer nothing else.

Data connections are passive or active as the definition's "passive mode" says. Folders are
listed with MLSD when the server offers it (FEAT lists MLST), else with NLST and a SIZE per zip.
Without navigation every folder is checked after the change into it: the server's `PWD` must
lie inside the sub-directory (the server itself resolves links).
"""

from __future__ import annotations

import contextlib
import ftplib
import socket
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

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

BLOCK_SIZE = 64 * 1024


def data_certificate_refused(conn: ssl.SSLSocket, *, control: str) -> str:
    """The fingerprint of the certificate a data connection shows when it is not to be trusted,
    else "": trusted when it resumed the control connection's TLS session (only the server
    that holds that session can) or shows the control connection's certificate `control`
    (pinned, or checked against the pin, before the login)."""
    if conn.session_reused:
        return ""
    found = hostkeys.certificate_fingerprint(conn.getpeercert(binary_form=True) or b"")
    return "" if control and hostkeys.same_fingerprint(found, control) else found


class ReusingFTPTLS(ftplib.FTP_TLS):
    """FTP_TLS whose data connections resume the control connection's TLS session, as many
    servers demand (vsftpd's require_ssl_reuse, FileZilla Server) so that no one else can
    open a data connection.

    The context checks no certificate (the pin does), so each data connection is checked
    here: one that neither resumed the session nor shows the control connection's
    certificate (`control_fingerprint`) is closed before a byte of it is read, and the
    transfer fails with a host-key error: a man in the middle of the passive data port, or a
    server that is not the pinned one, could otherwise serve a forged file."""

    def __init__(self, *args: Any, connection: Connection, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connection = connection
        self.control_fingerprint = ""  # set once the control connection's TLS is up

    def ntransfercmd(self, cmd: str, rest: Any = None) -> tuple[socket.socket, int | None]:
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)  # noqa: S321 (wrapped below)
        if self._prot_p:  # type: ignore[attr-defined]
            session = getattr(self.sock, "session", None)
            try:
                conn = self.context.wrap_socket(conn, server_hostname=self.host, session=session)
            except BaseException:
                conn.close()
                raise
            found = data_certificate_refused(conn, control=self.control_fingerprint)
            if found:
                conn.close()  # the session is dropped with the error: its replies are moot
                raise TransportError.of(
                    self.connection,
                    kind=ErrorKind.HOST_KEY,
                    plain=(
                        f"a data connection showed the certificate {found}, not the server's "
                        f"{self.control_fingerprint}, and did not resume its TLS session; "
                        "nothing was read from it. Someone may be posing as the server on its "
                        "data port: ask the server's administrator"
                    ),
                )
        return conn, size


def tls_context() -> ssl.SSLContext:
    """TLS 1.2 or later, the certificate not checked against authorities: the pin checks it."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class FtpTransport(RemoteTransport):
    """Lists, downloads and renames files of `sub_directory` on an FTP or FTPS server."""

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection)
        self.secure = connection.transport == "ftps"
        self._ftp: ftplib.FTP | None = None
        self._base = ""  # the sub-directory as the server's PWD gives it
        self._mlsd = False
        self.fingerprint = ""  # of the FTPS server's certificate, once connected

    # The session.

    def _connect(self) -> ftplib.FTP:
        """Connected (and for FTPS, under TLS with the certificate read), not logged in."""
        connection, timeout = self.connection, transport_timeout()
        ftp: ftplib.FTP
        if self.secure:
            ftp = ReusingFTPTLS(context=tls_context(), timeout=timeout, connection=connection)
        else:
            ftp = ftplib.FTP(timeout=timeout)  # noqa: S321 (plain FTP: the definition says so)
        try:
            ftp.connect(connection.server, connection.port or 21, timeout=timeout)
            if isinstance(ftp, ftplib.FTP_TLS):
                try:
                    ftp.auth()
                except ftplib.error_perm as exc:
                    raise TransportError.of(
                        connection,
                        kind=ErrorKind.TLS,
                        plain="the server does not offer explicit TLS (it refused AUTH TLS): "
                        "a plain FTP server, or one with implicit TLS, which patronsync does not "
                        "speak",
                        server_says=str(exc),
                    ) from exc
                assert isinstance(ftp.sock, ssl.SSLSocket), "AUTH TLS wrapped it"
                der = ftp.sock.getpeercert(binary_form=True)
                self.fingerprint = hostkeys.certificate_fingerprint(der or b"")
                if isinstance(ftp, ReusingFTPTLS):
                    ftp.control_fingerprint = self.fingerprint
        except BaseException:
            ftp.close()
            raise
        return ftp

    def _open(self) -> None:
        connection = self.connection
        ftp = self._connect()
        try:
            if self.secure:  # before the login: a server that is not the pinned one gets nothing
                hostkeys.host_key_verify(connection=connection, fingerprint=self.fingerprint)
            ftp.login(connection.username, connection.password)
            if isinstance(ftp, ftplib.FTP_TLS):
                ftp.prot_p()
            ftp.set_pasv(connection.passive_mode)
            ftp.voidcmd("TYPE I")
            self._mlsd = self._offers_mlsd(ftp)
            if connection.sub_directory:
                ftp.cwd(connection.sub_directory)
            self._base = ftp.pwd()
            if self.secure and not connection.host_key_fingerprint:
                hostkeys.host_key_pin(connection=connection, fingerprint=self.fingerprint)
        except BaseException:
            ftp.close()
            raise
        self._ftp = ftp

    @staticmethod
    def _offers_mlsd(ftp: ftplib.FTP) -> bool:
        try:
            features = ftp.sendcmd("FEAT")
        except ftplib.Error:
            return False
        return any(line.strip().upper().startswith("MLST") for line in features.splitlines())

    def _is_open(self) -> bool:
        return self._ftp is not None and self._ftp.sock is not None

    def _drop(self) -> None:
        ftp, self._ftp = self._ftp, None
        if ftp is not None:
            with contextlib.suppress(Exception):  # closing a session that already broke
                ftp.close()

    def close(self) -> None:
        """Say goodbye (QUIT) to a server that is still there, then close."""
        if self._is_open():
            with contextlib.suppress(Exception):  # the server went away: no one to say it to
                self.ftp.quit()
        self._drop()

    @property
    def ftp(self) -> ftplib.FTP:
        assert self._ftp is not None, "opened by _attempt"
        return self._ftp

    # Paths, confined.

    def _folder(self, folder: str) -> str:
        """Change into the input folder and return its path as the server gives it; refused
        when it lies outside the sub-directory and the definition does not allow navigation."""
        connection = self.connection
        self.ftp.cwd(folder_joined(connection, self._base, folder))
        real = self.ftp.pwd()
        if not connection.allow_navigation and not path_inside(real, self._base):
            raise navigation_refused(
                connection, folder, why=f"leads to {real}, outside {self._base}"
            )
        return real

    # The operations.

    def _listed_by_nlst(self) -> list[RemoteFile]:
        """The zips of the current folder by NLST, each with its SIZE (a folder has none)."""
        try:
            names = self.ftp.nlst()
        except (ftplib.error_perm, ftplib.error_temp) as exc:
            if "no files" in str(exc).lower() or "not found" in str(exc).lower():
                return []  # how some servers (ProFTPD: "450 No files found") say it is empty
            raise
        self.ftp.voidcmd("TYPE I")  # SIZE counts the bytes of a binary download; NLST left ASCII
        files = []
        for listed in names:
            name = listed.replace("\\", "/").rsplit("/", 1)[-1]  # some servers give paths
            if not name.lower().endswith(".zip"):
                continue
            try:
                size = self.ftp.size(name)
            except ftplib.error_perm:
                continue  # a folder named *.zip
            if size is not None:
                files.append(RemoteFile(name=name, size=size))
        return files

    def _listed_by_mlsd(self) -> list[RemoteFile]:
        """The zips of the current folder by MLSD; one listed without its `size` fact (some
        servers leave it out) is sized by SIZE, so that the size limit and the download's
        check hold for it too."""
        entries = [
            (name, facts.get("size"))
            for name, facts in self.ftp.mlsd(facts=["type", "size"])
            if facts.get("type", "").lower() == "file" and name.lower().endswith(".zip")
        ]
        files = []
        for name, size in entries:
            if size is None or not size.isdigit():
                self.ftp.voidcmd("TYPE I")  # SIZE counts the bytes of a binary download
                try:
                    counted = self.ftp.size(name)
                except ftplib.error_perm:
                    continue  # gone since the listing
                if counted is None:
                    continue
                files.append(RemoteFile(name=name, size=counted))
            else:
                files.append(RemoteFile(name=name, size=int(size)))
        return files

    def list(self, folder: str) -> list[RemoteFile]:
        def listing() -> list[RemoteFile]:
            self._folder(folder)
            files = self._listed_by_mlsd() if self._mlsd else self._listed_by_nlst()
            return sorted(files, key=lambda f: f.name)

        files = self._attempt(f"listing folder {folder or '(sub-directory)'}", listing)
        self.listed.update({(folder, f.name): f.size for f in files})
        return files

    def fetch(self, folder: str, name: str, workdir: Path) -> Path:
        file_name_checked(self.connection, name)

        def size_now() -> int | None:
            self.ftp.voidcmd("TYPE I")
            return self.ftp.size(name)

        def download() -> Path:
            self._folder(folder)
            return self._download(
                folder,
                name,
                workdir,
                copy=lambda out: self._retrieve(name, out.write),
                size_now=size_now,
            )

        return self._attempt(f"downloading {name}", download)

    def _retrieve(self, name: str, write: Callable[[bytes], object]) -> None:
        """RETR `name` in binary. A TLS error once the transfer began is a dropped connection
        (the server went away and the data connection's TLS ends half-way), so it is tried
        again like one."""
        try:
            self.ftp.retrbinary(f"RETR {name}", write, blocksize=BLOCK_SIZE)
        except ssl.SSLError as exc:
            raise TransportError.of(
                self.connection,
                kind=ErrorKind.OTHER,
                plain=f"the connection was dropped (downloading {name})",
                server_says=str(exc.reason or exc),
                transient=True,
            ) from exc

    def mark_handled(self, folder: str, name: str) -> None:
        file_name_checked(self.connection, name)

        def rename() -> None:
            self._folder(folder)
            try:
                self.ftp.rename(name, name + HANDLED_SUFFIX)
            except ftplib.error_perm:
                if self._renamed_already(name):  # an attempt whose answer was lost
                    return
                raise

        self._attempt(f"renaming {name} to {name}{HANDLED_SUFFIX}", rename)

    def _size(self, name: str) -> int | None:
        """SIZE of `name` in binary, None when the server has no such file."""
        self.ftp.voidcmd("TYPE I")
        try:
            return self.ftp.size(name)
        except ftplib.error_perm:
            return None

    def _replace(self, name: str, new_name: str) -> None:
        """RNFR/RNTO in the current folder, replacing `new_name`: servers that refuse to
        rename onto an existing file (IIS) have it deleted first."""
        try:
            self.ftp.rename(name, new_name)
        except ftplib.error_perm:
            if self._size(name) is None or self._size(new_name) is None:
                raise
            self.ftp.delete(new_name)
            self.ftp.rename(name, new_name)

    def _store(self, name: str, source: Path) -> None:
        """STOR `name` in binary from `source`. A TLS error during the transfer is a dropped
        connection, tried again like one (see `_retrieve`)."""
        try:
            with source.open("rb") as stream:
                self.ftp.storbinary(f"STOR {name}", stream, blocksize=BLOCK_SIZE)
        except ssl.SSLError as exc:
            raise TransportError.of(
                self.connection,
                kind=ErrorKind.OTHER,
                plain=f"the connection was dropped (uploading {name})",
                server_says=str(exc.reason or exc),
                transient=True,
            ) from exc

    def upload(self, folder: str, name: str, source: Path) -> RemoteFile:
        file_name_checked(self.connection, name)
        size = source.stat().st_size
        part = upload_part_name(name)

        def put() -> None:
            self._folder(folder)
            self._store(part, source)
            landed = self._size(part)
            if landed != size:
                with contextlib.suppress(ftplib.Error):
                    self.ftp.delete(part)
                raise self.upload_size_refused(name, landed=landed, size=size)
            self._replace(part, name)

        self._attempt(f"uploading {name}", put)
        return RemoteFile(name=name, size=size)

    def rename(self, folder: str, name: str, new_name: str) -> None:
        file_name_checked(self.connection, name)
        file_name_checked(self.connection, new_name)

        def move() -> None:
            self._folder(folder)
            self._replace(name, new_name)

        self._attempt(f"renaming {name} to {new_name}", move)

    def _renamed_already(self, name: str) -> bool:
        self.ftp.voidcmd("TYPE I")
        try:
            self.ftp.size(name)
        except ftplib.error_perm:
            try:
                return self.ftp.size(name + HANDLED_SUFFIX) is not None
            except ftplib.error_perm:
                return False
        return False

    def test(self, folder: str = "") -> str:
        files = self.list(folder)
        real = self._attempt("reading the folder", lambda: self._folder(folder))
        connection = self.connection
        security = (
            f"TLS, server certificate {self.fingerprint}"
            f"{' (pinned)' if connection.host_key_fingerprint else ''}"
            if self.secure
            else "no encryption (plain FTP)"
        )
        return (
            f"{server_label(connection)}: logged in as {connection.username}; {security}; "
            f"{'passive' if connection.passive_mode else 'active'} mode; listed with "
            f"{'MLSD' if self._mlsd else 'NLST and SIZE'}; folder {real}: {len(files)} zip "
            "file(s) waiting"
        )

    def probe_fingerprint(self) -> str:
        if not self.secure:
            return super().probe_fingerprint()

        def probe() -> str:
            self._connect().close()
            return self.fingerprint

        return self._attempt("reading the server's certificate", probe, login=False)
