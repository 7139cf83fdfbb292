"""Real servers for the transport tests, on free loopback ports: OpenSSH's sshd (in a chroot,
with `internal-sftp` and a user made for the test), pyftpdlib for FTP and FTPS (in a process
of its own, so that a test can have it die in the middle of a download), and a relay that
stops a server once a given number of bytes went through it."""

from __future__ import annotations

import contextlib
import datetime
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SSHD = Path("/usr/sbin/sshd")
# sshd's ChrootDirectory wants every folder of the path owned by root and writable by no one
# else: not under /tmp, which anyone may write.
SERVERS_ROOT = Path("/var/lib/patronsync-tests")
LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def port_wait(port: int, *, process: subprocess.Popen[bytes] | None = None, log: Path | None = None,
              seconds: float = 20.0) -> None:  # fmt: skip
    """Return once something accepts connections on `port`; fail with the server's log."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            break
        with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), 0.5):
            return
        time.sleep(0.05)
    text = log.read_text(errors="replace") if log and log.exists() else ""
    raise RuntimeError(f"no server answered on port {port}:\n{text}")


def descendants(pid: int) -> list[int]:
    """The processes `pid` started, and theirs (read from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def process_stop(process: subprocess.Popen[bytes] | None) -> None:
    """Kill a server this module started and every process it started (sshd's sessions)."""
    if process is None or process.poll() is not None:
        return
    for pid in [process.pid, *descendants(process.pid)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.wait(10)


def run(*command: str, stdin: str | None = None) -> str:
    done = subprocess.run(command, input=stdin, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stderr or done.stdout}")
    return done.stdout


class SshServer:
    """OpenSSH's sshd with its own configuration and host key, for one test user.

    The user is jailed in `chroot` (root's) with `internal-sftp`; `upload` inside it is the
    user's own folder (the definitions' sub-directory `/upload`), and `outside` a folder of
    the chroot outside it, for links that lead out.
    """

    def __init__(self) -> None:
        if not SSHD.exists():
            raise RuntimeError(f"{SSHD} is missing: run .ci/test-servers (as root) first")
        SERVERS_ROOT.mkdir(mode=0o755, exist_ok=True)
        SERVERS_ROOT.chmod(0o755)
        self.root = Path(os.path.realpath(tempfile.mkdtemp(dir=SERVERS_ROOT)))
        self.root.chmod(0o755)
        self.user = f"psync{secrets.token_hex(4)}"
        self.password = secrets.token_urlsafe(12)
        self.chroot = self.root / "chroot"
        self.upload = self.chroot / "upload"
        self.outside = self.chroot / "outside"
        self.keys = self.root / "keys"
        self.host_key = self.root / "host_ed25519"
        self.config = self.root / "sshd_config"
        self.log = self.root / "sshd.log"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        for folder in (self.chroot, self.outside, self.keys):
            folder.mkdir(mode=0o755)
        run(
            "useradd", "--no-create-home", "--home-dir", "/upload",
            "--shell", "/usr/sbin/nologin", self.user,
        )  # fmt: skip
        run("chpasswd", stdin=f"{self.user}:{self.password}\n")
        self.upload.mkdir(mode=0o755)
        shutil.chown(self.upload, self.user, self.user)
        self.host_key_new()
        self.authorized_keys = self.keys / self.user
        self.authorized_keys.write_text("")
        self.config.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    f"ListenAddress {LOOPBACK}",
                    f"HostKey {self.host_key}",
                    "PidFile none",
                    # Password logins of a user made with useradd and chpasswd: no PAM here.
                    "UsePAM no",
                    "PasswordAuthentication yes",
                    "KbdInteractiveAuthentication no",
                    "PubkeyAuthentication yes",
                    f"AuthorizedKeysFile {self.keys}/%u",
                    "StrictModes no",
                    f"AllowUsers {self.user}",
                    "PermitRootLogin no",
                    f"ChrootDirectory {self.chroot}",
                    "ForceCommand internal-sftp",
                    "Subsystem sftp internal-sftp",
                    "AllowTcpForwarding no",
                    "X11Forwarding no",
                    "MaxStartups 50",
                    "MaxAuthTries 10",
                    "LogLevel VERBOSE",
                    "",
                ]
            )
        )

    def host_key_new(self) -> str:
        """A new host key (the server is restarted if it runs); returns its fingerprint."""
        for path in (self.host_key, self.host_key.with_suffix(".pub")):
            path.unlink(missing_ok=True)
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "test", "-f", str(self.host_key))
        if self.process is not None and self.process.poll() is None:
            self.stop()
            self.start()
        return self.fingerprint()

    def fingerprint(self) -> str:
        """The host key's fingerprint as OpenSSH's own ssh-keygen prints it."""
        return run("ssh-keygen", "-l", "-f", str(self.host_key.with_suffix(".pub"))).split()[1]

    def start(self) -> SshServer:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(SSHD), "-D", "-e", "-f", str(self.config)],
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
            )
        port_wait(self.port, process=self.process, log=self.log)
        return self

    def stop(self) -> None:
        process_stop(self.process)

    def close(self) -> None:
        self.stop()
        subprocess.run(["userdel", self.user], capture_output=True, check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def reset(self) -> None:
        """An empty upload folder with `import` and `synchronize`, no authorized key, the
        outside folder with a zip in it, the server running."""
        self.upload.chmod(0o755)
        for path in self.upload.iterdir():
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o755)
                shutil.rmtree(path)
            else:
                path.unlink()
        for name in ("import", "synchronize"):
            folder = self.upload / name
            folder.mkdir(mode=0o755)
            shutil.chown(folder, self.user, self.user)
        self.authorized_keys.write_text("")
        (self.outside / "secret.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)
        if self.process is None or self.process.poll() is not None:
            self.start()

    def authorize(self, public_key: str) -> None:
        self.authorized_keys.write_text(public_key.strip() + "\n")


def self_signed_certificate(folder: Path, *, name: str = "localhost") -> tuple[Path, Path, bytes]:
    """A self-signed certificate and its key, as campus FTPS servers have; (cert, key, DER)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    cert_path = folder / f"{name}-{secrets.token_hex(3)}.crt"
    key_path = cert_path.with_suffix(".key")
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path, certificate.public_bytes(serialization.Encoding.DER)


class FtpServer:
    """pyftpdlib serving `home` to one user, in a process of its own (`ftpserver.py`).

    `tls` makes it an explicit-TLS (FTPS) server that requires TLS on control and data
    connections; `mlsd=False` a server without MLSD/MLST, as old servers are; `perm` the
    user's pyftpdlib permissions. `die_during_next_download(after)` has the process kill
    itself once it sent `after` bytes of the next download.
    """

    def __init__(self, home: Path, *, tls: tuple[Path, Path] | None = None, mlsd: bool = True,
                 perm: str = "elradfmw", data_tls: tuple[Path, Path] | None = None,
                 size_fact: bool = True) -> None:  # fmt: skip
        self.home = home
        self.user = "sis"
        self.password = secrets.token_urlsafe(12)
        self.port = free_port()
        self.tls = tls
        self.mlsd = mlsd
        self.perm = perm
        self.data_tls = data_tls  # another certificate on the data connections
        self.size_fact = size_fact  # False: MLSD lists no sizes, as some servers do
        self.control = home.parent / f".ftp-{self.port}"
        self.control.mkdir(exist_ok=True)
        self.log = self.control / "ftpd.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> FtpServer:
        command = [
            sys.executable, str(Path(__file__).with_name("ftpserver.py")),
            "--port", str(self.port), "--home", str(self.home), "--user", self.user,
            "--perm", self.perm, "--control", str(self.control),
        ]  # fmt: skip
        if self.tls:
            command += ["--cert", str(self.tls[0]), "--key", str(self.tls[1])]
        if self.data_tls:
            command += ["--data-cert", str(self.data_tls[0]), "--data-key", str(self.data_tls[1])]
        if not self.mlsd:
            command.append("--no-mlsd")
        if not self.size_fact:
            command.append("--no-size-fact")
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=log,
                stdin=subprocess.PIPE,
            )
        assert self.process.stdin is not None
        self.process.stdin.write(self.password.encode() + b"\n")  # not on the command line
        self.process.stdin.close()
        port_wait(self.port, process=self.process, log=self.log)
        return self

    def stop(self) -> None:
        process_stop(self.process)

    def reset(self) -> None:
        """An empty home with `import` and `synchronize`, the server running, no death
        ordered."""
        (self.control / "die-after").unlink(missing_ok=True)
        for path in self.home.iterdir():
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        for name in ("import", "synchronize"):
            (self.home / name).mkdir()
        if not self.running():
            self.start()

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def die_during_next_download(self, after: int) -> None:
        (self.control / "die-after").write_text(str(after))


class Relay:
    """A TCP relay to `port` that, once `after` bytes came back from the server, calls `then`
    and drops its connections: a connection lost in the middle of a download.

    With `keep_listening` later connections are relayed as they come (a fault that passes);
    without, the relay stops listening too (with `then` stopping the server: a server that
    went away in the middle of a download).
    """

    def __init__(self, port: int, *, after: int, then: Callable[[], object] = lambda: None,
                 keep_listening: bool = False) -> None:  # fmt: skip
        self.upstream = port
        self.after = after
        self.then = then
        self.keep_listening = keep_listening
        self.sent = 0
        self.tripped = threading.Event()
        self.closed = threading.Event()
        self.listener = socket.create_server((LOOPBACK, 0))
        self.port = int(self.listener.getsockname()[1])
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection((LOOPBACK, self.upstream))
            except OSError:  # the server is gone: so is the connection
                client.close()
                continue
            self.sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, counted: bool) -> None:
        try:
            while data := source.recv(16384):
                if counted:
                    with self.lock:
                        self.sent += len(data)
                        trip = self.sent >= self.after and not self.tripped.is_set()
                        if trip:
                            self.tripped.set()
                    if trip:
                        if not self.keep_listening:
                            self.close()  # first: a retry finds no one listening
                        self.then()
                        self._drop_connections()
                        return
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def _drop_connections(self) -> None:
        sockets, self.sockets = self.sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()

    def close(self) -> None:
        self.closed.set()
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() that waits (Linux)
        with contextlib.suppress(OSError):
            self.listener.close()
        self._drop_connections()
