"""The browser tests' world: a real `patronsync serve` (gunicorn and the embedded worker) on a
free loopback port, set up with the `patronsync` commands as an operator would, Debian's
chromium driven by Playwright, OpenSSH's sshd for the S/FTP definitions, and screenshots.

The server runs on SQLite in its own data directory; when the suite runs on PostgreSQL
(`DATABASE_URL`), it gets a fresh PostgreSQL database of its own, dropped at the end, so that
both databases are exercised through the pages too. The test process never touches the
server's database: what it checks, it reads through the pages (or the CLI).
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import secrets
import subprocess
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from patronsync.almaxml.model import Code, Email, User
from patronsync.almaxml.writer import write_users
from patronsync.connections.tests.servers import SshServer
from patronsync.tests.test_serve import Server, patronsync, start, stop

CHROMIUM = Path("/usr/bin/chromium")
ADMIN = "admin"
ADMIN_PASSWORD = "browser-tests-" + secrets.token_urlsafe(9)
LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
# Generous: the machine is slow and shared. Each wait ends as soon as the page shows the thing.
TIMEOUT_MS = 60_000
JOB_TIMEOUT_MS = 600_000

expect.set_options(timeout=TIMEOUT_MS)


def _postgres_url() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else None


@pytest.fixture(scope="session")
def server_database() -> Iterator[dict[str, str]]:
    """The server's DATABASE_URL: none (SQLite in its data directory), or a new PostgreSQL
    database beside the suite's own when the suite runs on PostgreSQL."""
    url = _postgres_url()
    if url is None:
        yield {}
        return
    import psycopg

    parts = urlsplit(url)
    name = f"{parts.path.lstrip('/') or 'patronsync'}_browser_{secrets.token_hex(4)}"
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield {"DATABASE_URL": urlunsplit(parts._replace(path=f"/{name}"))}
    finally:
        with psycopg.connect(maintenance, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Live:
    """The running server, its data directory and the environment of its commands."""

    server: Server
    data_dir: Path
    env: dict[str, str]
    log: Path

    @property
    def url(self) -> str:
        return self.server.url

    def command(self, *arguments: str) -> subprocess.CompletedProcess:
        """Run `patronsync ARGUMENTS` on the server's database; fail with its output."""
        done = patronsync(self.data_dir, *arguments, **self.env)
        assert done.returncode in (0, 4), (arguments, done.stdout, done.stderr)
        return done

    def drop_folder(self, name: str) -> Path:
        """A folder of the default institution's local root (DATA_DIR/sis), made if needed."""
        folder = self.data_dir / "sis" / name
        folder.mkdir(parents=True, exist_ok=True)
        return folder


@pytest.fixture(scope="session")
def live(tmp_path_factory, server_database) -> Iterator[Live]:
    """`patronsync serve` with its worker, the default institution and its administrator made
    with the commands an operator types."""
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: run .ci/test-servers (as root) first"
    root = tmp_path_factory.mktemp("browser")
    data_dir = root / "data"
    env = {
        **server_database,
        "PATRONSYNC_WORKER_INTERVAL": "1",
        # The default institution is being set up: its Allowed S/FTP connections apply.
        "PATRONSYNC_IN_IMPLEMENTATION": "main",
        "PATRONSYNC_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }
    # The migrations make the default institution `main`; a consortium's other libraries
    # would come with `patronsync institution create`.
    for arguments in (
        ("migrate", "--verbosity", "0"),
        ("createadmin", "--username", ADMIN, "--institution", "main"),
    ):
        done = patronsync(data_dir, *arguments, **env)
        assert done.returncode == 0, (arguments, done.stdout, done.stderr)
    log = root / "serve.log"
    server = start(data_dir, log, **env)
    try:
        yield Live(server=server, data_dir=data_dir, env=env, log=log)
    finally:
        stop(server)


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="session")
def browser(playwright) -> Iterator[Browser]:
    # Debian's chromium, not a downloaded one; --no-sandbox because the tests run as root.
    launched = playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
    )
    yield launched
    launched.close()


@pytest.fixture
def context(browser, live) -> Iterator[BrowserContext]:
    made = browser.new_context(viewport=LAPTOP, base_url=live.url, locale="en-GB")
    made.set_default_timeout(TIMEOUT_MS)
    made.set_default_navigation_timeout(TIMEOUT_MS)
    yield made
    made.close()


@pytest.fixture
def page(context) -> Page:
    return context.new_page()


@dataclass
class Shots:
    """Screenshots of the pages, into PATRONSYNC_SCREENSHOTS (or pytest's tmp dir): the
    viewport by default, the whole page where the page's length is the point."""

    folder: Path
    taken: list[Path] = field(default_factory=list)

    def take(self, page: Page, name: str, *, full_page: bool = False) -> Path:
        path = self.folder / f"{name}.png"
        page.wait_for_load_state("load")
        page.screenshot(path=str(path), full_page=full_page, animations="disabled")
        self.taken.append(path)
        return path

    def phone(self, page: Page, name: str) -> Path:
        """The page at a phone's width (390 by 844), then back to the laptop's size."""
        page.set_viewport_size(PHONE)
        try:
            return self.take(page, name)
        finally:
            page.set_viewport_size(LAPTOP)


@pytest.fixture(scope="session")
def shots(tmp_path_factory) -> Shots:
    wanted = os.environ.get("PATRONSYNC_SCREENSHOTS")
    folder = Path(wanted) if wanted else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return Shots(folder=folder)


@pytest.fixture(scope="session")
def sshd_server() -> Iterator[SshServer]:
    server = SshServer().start()
    yield server
    server.close()


@pytest.fixture
def sshd(sshd_server) -> SshServer:
    """The test sshd, running, with empty import and synchronize folders and no key."""
    sshd_server.reset()
    return sshd_server


def log_in(page: Page, *, username: str = ADMIN, password: str = ADMIN_PASSWORD,
           shots: Shots | None = None) -> Page:  # fmt: skip
    """Log in through the login page, as staff do; lands on the users' search."""
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/$"))
    expect(page.get_by_role("heading", name="Log in to patronsync")).to_be_visible()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    if shots is not None:
        shots.take(page, "01-login")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("header.ps-header summary", has_text=username)).to_be_visible()
    return page


def menu_open(page: Page, entry: str) -> None:
    """Open Configuration in the menu and follow `entry`."""
    menu = page.get_by_role("navigation", name="Main menu")
    menu.locator("summary", has_text="Configuration").click()
    menu.get_by_role("link", name=entry, exact=True).click()


def feed_user(primary_id: str, first: str, last: str, *, group: str = "UNDERGRAD",
              expiry: dt.date = dt.date(2030, 1, 31)) -> User:  # fmt: skip
    """A student as the Student Information System exports them."""
    return User(
        record_type=Code("PUBLIC"),
        primary_id=primary_id,
        first_name=first,
        last_name=last,
        user_group=Code(group),
        expiry_date=expiry,
        account_type=Code("EXTERNAL"),
        status=Code("ACTIVE"),
        emails=[
            Email(
                email_address=f"{primary_id}@uni.example.edu",
                preferred=True,
                email_types=[Code("school")],
            )
        ],
    )


def feed_write(path: Path, users: list[User]) -> Path:
    """A zipped Alma User XML feed of `users` (written with patronsync's own XML writer), put
    in place by a rename, as an S/FTP upload lands: a worker never sees half a zip."""
    document = io.BytesIO()
    write_users(users, document)
    partial = path.with_name(path.name + ".part")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("users.xml", document.getvalue())
    partial.rename(path)
    return path


def config_apply(live: Live, name: str, document: str) -> None:
    """`patronsync config apply` of a YAML document, as an operator keeps configuration."""
    path = live.data_dir.parent / f"{name}.yaml"
    path.write_text(document)
    live.command("config", "apply", str(path))


def run_menu(page: Page, kind: str) -> None:
    """On a profile's page: Run, then `kind` (Import, Synchronize, or their dry runs)."""
    menu = page.locator("main details.ps-run-menu").first
    menu.locator("summary").click()
    menu.get_by_role("button", name=kind, exact=True).click()


def job_wait_ended(page: Page) -> str:
    """On a job's report: wait until the job has ended (the live box says Finished); returns
    the report's text."""
    expect(page.locator(".ps-live", has_text="Finished")).to_be_visible(timeout=JOB_TIMEOUT_MS)
    page.reload()
    return page.locator("main").inner_text()
