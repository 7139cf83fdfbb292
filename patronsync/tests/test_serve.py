"""`patronsync serve` as an operator starts it: a real server process on a loopback port, with
a fresh data directory. It runs gunicorn, shows no debug page, answers a huge body 413, serves
the admin's CSS through whitenoise, keeps API keys out of its access log and makes its data
directory and database private; the worker beside it runs a job started through the API; it
stops both on SIGTERM. Production settings without their keys stop every command in one line."""

from __future__ import annotations

import http.cookiejar
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from config.settings.base import BASE_DIR

# In the server's environment: Django's debug page would show it (its name hides nothing).
CANARY = "canary-of-the-server-environment"
STARTUP_SECONDS = 120


@dataclass
class Server:
    process: subprocess.Popen
    url: str
    log: Path

    def call(
        self,
        path: str,
        *,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
        opener: urllib.request.OpenerDirector | None = None,
    ) -> tuple[int, bytes]:
        request = urllib.request.Request(self.url + path, data=data, headers=headers or {})
        try:
            with (opener or urllib.request.build_opener()).open(request, timeout=60) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def log_text(self, *, containing: str | tuple[str, ...]) -> str:
        """The server's output once it contains each of `containing` (the access log is written
        after the answer is sent, by whichever of gunicorn's processes answered), or as it is
        after a while."""
        wanted = (containing,) if isinstance(containing, str) else containing
        deadline = time.monotonic() + 30
        while True:
            text = self.log.read_text(errors="replace")
            if all(part in text for part in wanted) or time.monotonic() > deadline:
                return text
            time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a command run as an operator would, on SQLite in `data_dir`."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"DATABASE_URL", "PATRONSYNC_DATABASE_URL", "DJANGO_SETTINGS_MODULE"}
        and not name.startswith("PATRONSYNC_")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.dev",
        PATRONSYNC_DATA_DIR=str(data_dir),
        PATRONSYNC_DEBUG="true",  # an old variable: serve heeds --dev alone
        PATRONSYNC_SERVE_CANARY=CANARY,
        PATRONSYNC_READ_AHEAD="false",
    )
    env.update(extra)
    return env


def patronsync(data_dir: Path, *arguments: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "patronsync.cli", *arguments],
        cwd=BASE_DIR,
        env=server_env(data_dir, **extra),
        capture_output=True,
        text=True,
        timeout=300,
    )


def start(data_dir: Path, log: Path, *flags: str, **extra: str) -> Server:
    """`patronsync serve` on SQLite in `data_dir`; returns once it answers."""
    env = server_env(data_dir, **extra)
    port = free_port()
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "patronsync.cli", "serve", "--port", str(port), *flags],
            cwd=BASE_DIR,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = Server(process=process, url=f"http://127.0.0.1:{port}", log=log)
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        try:
            server.call("/admin/login/")
            return server
        except OSError:
            time.sleep(0.25)
    stop(server)
    raise AssertionError(f"patronsync serve did not start:\n{log.read_text(errors='replace')}")


def stop(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=90)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("serve") / "data"  # not made yet: the server makes it


@pytest.fixture(scope="module")
def server(data_dir) -> Iterator[Server]:
    running = start(data_dir, data_dir.parent / "serve.log")
    yield running
    stop(running)


def test_serve_answers_404_without_listing_the_url_patterns(server):
    status, body = server.call("/no-such-page/")

    assert status == 404
    assert b"URLconf" not in body
    assert b"almaws/v1/" not in body
    assert CANARY.encode() not in body


def test_serve_answers_a_3_mb_login_post_413_without_the_environment(server):
    # As a browser would: the login page first, for its CSRF cookie and token.
    cookies = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(cookies))
    server.call("/admin/login/", opener=browser)
    token = next(cookie.value for cookie in cookies if cookie.name == "csrftoken")
    form = f"csrfmiddlewaretoken={token}&username=admin&password=".encode() + b"x" * 3_000_000

    status, body = server.call(
        "/admin/login/",
        data=form,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Referer": server.url + "/admin/login/",
        },
        opener=browser,
    )

    assert CANARY.encode() not in body  # Django's debug page showed the whole environment
    assert status == 413
    assert body.startswith(f"The request body is {len(form):,} bytes".encode())
    assert b"SECRET" not in body


def test_serve_serves_the_admins_css_with_debug_off(server, data_dir):
    status, body = server.call("/static/admin/css/base.css")

    assert status == 200
    assert b"body" in body
    # Collected by serve into STATIC_ROOT, where whitenoise serves it from.
    assert (data_dir / "static" / "admin" / "css" / "base.css").read_bytes() == body


def test_access_log_redacts_the_key_however_it_is_spelled(server):
    keys = {"apikey": "key-plain-1", "api%6Bey": "key-encoded-2", "APIKEY": "key-upper-3"}
    for name, key in keys.items():
        status, _ = server.call(f"/almaws/v1/users?format=json&{name}={key}&limit=1")
        assert status == 401  # no such key; the server logs the call all the same

    log = server.log_text(
        containing=tuple(f"{name}=[redacted]&limit=1" for name in ("apikey", "api%6Bey", "APIKEY"))
    )

    assert "api%6Bey=[redacted]&limit=1" in log
    assert "apikey=[redacted]&limit=1" in log
    assert "APIKEY=[redacted]&limit=1" in log
    for key in keys.values():
        assert key not in log


def test_data_directory_is_0700_and_database_0600(server, data_dir):
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    database = data_dir / "patronsync.sqlite3"
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    for companion in (data_dir / "patronsync.sqlite3-wal", data_dir / "patronsync.sqlite3-shm"):
        if companion.exists():
            assert stat.S_IMODE(companion.stat().st_mode) == 0o600


def test_serve_dev_turns_on_djangos_debug_pages(server, data_dir):
    dev = start(data_dir, data_dir.parent / "serve-dev.log", "--dev")
    try:
        status, body = dev.call("/no-such-page/")
    finally:
        stop(dev)

    assert status == 404
    assert b"URLconf" in body


def test_serve_runs_gunicorn_and_its_worker_beside_it(server):
    log = server.log_text(containing="embedded worker")

    assert "Starting gunicorn" in log
    assert "the embedded worker runs the jobs beside it" in log


def test_a_job_started_through_the_api_runs_on_the_worker_beside_the_server(tmp_path):
    # The README's first command: `patronsync quickstart`, then `patronsync serve`.
    data_dir = tmp_path / "data"
    quickstart = patronsync(data_dir, "quickstart", "--users", "30")
    assert quickstart.returncode == 0, quickstart.stderr
    assert "Patron Import Results" in quickstart.stdout
    feed = data_dir / "sis" / "synchronize" / "next-day.zip"
    # The next day of the quick start's population: a tenth of its users changed.
    day_two = ("--seed", "2", "--base-seed", "1", "--changed-fraction", "0.1")
    sample = patronsync(data_dir, "feed", "sample", "--users", "30", *day_two, "-o", str(feed))
    assert sample.returncode == 0, sample.stderr
    created = patronsync(data_dir, "apikey", "create", "--name", "ops", "--read-write")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    running = start(data_dir, tmp_path / "serve.log", PATRONSYNC_WORKER_INTERVAL="1")
    try:
        headers = {"Authorization": f"apikey {key}", "Content-Type": "application/json"}
        body = json.dumps({"profile": "SIS", "kind": "synchronize"}).encode()
        status, answer = running.call("/api/v1/jobs", data=body, headers=headers)
        assert status == 202, answer
        job_id = json.loads(answer)["job_id"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            status, answer = running.call(f"/api/v1/jobs/{job_id}", headers=headers)
            report = json.loads(answer)
            if report["status"] not in ("pending", "running"):
                break
            time.sleep(0.5)
        status, answer = running.call("/api/v1/jobs/monitor", headers=headers)
        monitor = json.loads(answer)
    finally:
        stop(running)

    assert report["status"] == "completed", report["log"]
    assert report["total_records_processed"] == 30
    assert report["updated"] > 0
    assert not feed.exists()
    assert feed.with_name("next-day.zip.handled").exists()
    ran = next(job for job in monitor["history"] if job["id"] == job_id)
    assert ran["progress"]["done"] == ran["progress"]["total"] == 30
    assert running.process.returncode == 0  # SIGTERM stopped the server and its worker cleanly
    log = running.log.read_text(errors="replace")
    assert "Shutting down: Master" in log
    assert "stopped (SIGTERM)" in log


def test_serve_with_a_broker_starts_no_worker_of_its_own(tmp_path):
    running = start(
        tmp_path / "data", tmp_path / "serve.log", PATRONSYNC_BROKER_URL="redis://127.0.0.1:6379/9"
    )
    try:
        log = running.log_text(containing="Celery")
    finally:
        stop(running)

    assert "no worker here: PATRONSYNC_BROKER_URL sends the jobs to Celery workers" in log
    assert "embedded worker" not in log


def test_serve_stops_when_its_worker_dies_and_says_so(tmp_path):
    running = start(tmp_path / "data", tmp_path / "serve.log", PATRONSYNC_WORKER_INTERVAL="1")
    try:
        children = subprocess.run(
            ["pgrep", "-P", str(running.process.pid), "-f", "patronsync.cli worker"],
            capture_output=True,
            text=True,
        ).stdout.split()
        assert len(children) == 1
        os.kill(int(children[0]), signal.SIGKILL)
        code = running.process.wait(timeout=90)
    finally:
        stop(running)

    assert code == 1
    assert "the worker stopped (exit code -9); stopping the rest" in running.log.read_text()


@pytest.mark.parametrize(
    ("missing", "present"),
    [
        ("PATRONSYNC_SECRET_KEY", {"PATRONSYNC_ENCRYPTION_KEY": "x" * 44}),
        ("PATRONSYNC_ENCRYPTION_KEY", {"PATRONSYNC_SECRET_KEY": "a-long-enough-secret-key"}),
    ],
)
@pytest.mark.parametrize("command", [["serve"], ["migrate"], ["run", "SIS", "--synchronize"]])
def test_production_settings_without_a_key_stop_in_one_line(tmp_path, missing, present, command):
    result = patronsync(
        tmp_path / "data",
        *command,
        DJANGO_SETTINGS_MODULE="config.settings.production",
        **present,
    )

    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"patronsync: {missing} must be set in production")
    assert "make one with: python3 -c" in lines[0]
    assert "Traceback" not in result.stderr


def test_production_serve_behind_a_tls_proxy(tmp_path):
    from cryptography.fernet import Fernet

    running = start(
        tmp_path / "data",
        tmp_path / "serve.log",
        "--no-worker",
        DJANGO_SETTINGS_MODULE="config.settings.production",
        PATRONSYNC_SECRET_KEY="a-production-secret-key-for-this-test-only",
        PATRONSYNC_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        PATRONSYNC_BEHIND_TLS_PROXY="true",
    )
    proxied = {"X-Forwarded-Proto": "https"}  # as nginx sets it (docs/deployment.md)
    try:
        css_status, css = running.call("/static/admin/css/base.css")
        request = urllib.request.Request(running.url + "/admin/login/", headers=proxied)
        with urllib.request.urlopen(request, timeout=60) as answer:
            cookie = next(
                c for c in answer.headers.get_all("Set-Cookie") if c.startswith("csrftoken=")
            )
            page = answer.read().decode()
        token = page.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
        form = f"csrfmiddlewaretoken={token}&username=nobody&password=wrong".encode()
        host = running.url.removeprefix("http://")

        def login(origin: str) -> int:
            headers = {
                **proxied,
                "Cookie": cookie.split(";")[0],
                "Origin": origin,
                "Content-Type": "application/x-www-form-urlencoded",
            }
            return running.call("/admin/login/", data=form, headers=headers)[0]

        over_https = login(f"https://{host}")
        from_plain_http = login(f"http://{host}")
        log = running.log_text(containing="--no-worker")
    finally:
        stop(running)

    assert css_status == 200
    assert b"body" in css
    assert "Secure" in cookie  # sent over HTTPS only
    # The proxy's header is trusted: the request counts as HTTPS, so an https:// origin passes
    # the CSRF check (the login form comes back with its error) and a plain http:// one is
    # refused.
    assert over_https == 200
    assert from_plain_http == 403
    assert "no worker here (--no-worker)" in log
