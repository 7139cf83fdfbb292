"""A database of its own for tests that run `patronsync` in subprocesses and kill them.

pytest-django's SQLite test database lives in memory, out of a subprocess's reach, so these
tests make their own: a SQLite file, or a PostgreSQL database beside the test database (its
name is the test database's with a suffix, so it is never a real one). A template is migrated
and configured once; each try starts from a fresh copy of it (a file copy, or CREATE DATABASE
... TEMPLATE). The tests read the copies with the database's own driver, not through Django,
so that pytest-django's test database stays untouched.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from django.conf import settings

from patronsync.demo.services import demo_config

ROOT = Path(__file__).resolve().parents[3]
SQLITE_FILE = "patronsync.sqlite3"
WAIT_SECONDS = 120  # the longest any one subprocess or poll may take before the test fails


def is_postgres() -> bool:
    return settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


class LabDatabase:
    """One database the subprocesses use: `reset()` it to the template before each try."""

    def __init__(self, home: Path, *, batch_size: int) -> None:
        self.home = home  # the subprocesses' PATRONSYNC_DATA_DIR
        self.drop = home / "sis"  # the profile's folder, inside the default local root
        self.feed = home / "feed"  # the files each try drops into the profile's folder
        self.batch_size = batch_size
        self.template = home / "template"
        self.template_jobs = 0  # the jobs the template holds: `jobs()` leaves them out
        default = settings.DATABASES["default"]
        self.pg = dict(default) if is_postgres() else None
        # Beside the test database, and named as a test database whatever pytest-django did yet.
        base = str(default["NAME"])
        base = base if base.startswith("test_") else f"test_{base}"
        self.name = f"{base}_lab{os.getpid()}" if self.pg else ""
        self.template_name = f"{self.name}_tmpl"

    # The subprocesses.

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("PATRONSYNC_") and key not in {"DATABASE_URL"}
        }
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings.dev",
            PATRONSYNC_DATA_DIR=str(self.home),
            PATRONSYNC_DEBUG="false",
            PATRONSYNC_SECRET_KEY="test-only-secret-key-not-for-production",
            PATRONSYNC_ENCRYPTION_KEY=settings.ENCRYPTION_KEY,
            PATRONSYNC_LOCAL_ROOTS=f"*={self.home}",
            PATRONSYNC_BATCH_SIZE=str(self.batch_size),
            PATRONSYNC_LOG_LEVEL="ERROR",
        )
        if self.pg:
            env["DATABASE_URL"] = self.url(self.name)
        env.update(extra)
        return env

    def url(self, name: str) -> str:
        assert self.pg is not None
        pg = self.pg
        auth = pg["USER"] + (f":{pg['PASSWORD']}" if pg.get("PASSWORD") else "")
        return f"postgresql://{auth}@{pg['HOST'] or '127.0.0.1'}:{pg['PORT'] or 5432}/{name}"

    def start(self, *args: str, **env: str) -> subprocess.Popen[str]:
        """Start `patronsync ARGS` in a subprocess of its own."""
        return subprocess.Popen(
            [sys.executable, "-m", "patronsync.cli", *args],
            cwd=ROOT,
            env=self.env(**env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def patronsync(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        """Run `patronsync ARGS` to its end; fail the test with its output if it errs."""
        process = self.start(*args, **env)
        out, err = process.communicate(timeout=WAIT_SECONDS)
        # 0 completed, 3 skipped (another run holds the job), 4 completed with errors (the
        # lab's feeds reject some users on purpose).
        if process.returncode not in (0, 3, 4):
            raise AssertionError(f"patronsync {' '.join(args)}: exit {process.returncode}\n{err}")
        return subprocess.CompletedProcess(process.args, process.returncode, out, err)

    # The template and its copies.

    def build_template(self, prepare: Callable[[LabDatabase], None]) -> None:
        """Migrate an empty database, apply the demo's profile, then `prepare` it (e.g. load
        a first day of users); it becomes the template every `reset` copies."""
        self.home.mkdir(parents=True, exist_ok=True)
        self._empty_drop()
        if self.pg:
            self._pg_admin(f'DROP DATABASE IF EXISTS "{self.name}"')
            self._pg_admin(f'CREATE DATABASE "{self.name}"')
        self.patronsync("migrate", "--verbosity", "0")
        config = self.home / "config.json"
        document = demo_config(self.drop)
        # The kill tests are about the engine's commits and resumption, whose positions they
        # kill at: one pass, the mass-change guard off (its own tests hold and apply plans).
        document["profiles"][0]["synchronize"]["guard"] = {"enabled": False}
        config.write_text(json.dumps(document))
        self.patronsync("config", "apply", str(config))
        prepare(self)
        self.template_jobs = int(self.rows("SELECT COUNT(*) AS n FROM jobs_job")[0]["n"])
        if self.pg:
            self._pg_admin(f'DROP DATABASE IF EXISTS "{self.template_name}"')
            self._pg_admin(f'ALTER DATABASE "{self.name}" RENAME TO "{self.template_name}"')
        else:
            self.template.mkdir(exist_ok=True)
            for name in (SQLITE_FILE, f"{SQLITE_FILE}-wal", f"{SQLITE_FILE}-shm"):
                if (self.home / name).exists():
                    shutil.move(self.home / name, self.template / name)

    def reset(self) -> None:
        """Start again from the template, with an empty drop folder."""
        self._empty_drop()
        if self.pg:
            # WITH (FORCE): the server may not have seen yet that a killed client is gone.
            self._pg_admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            self._pg_admin(f'CREATE DATABASE "{self.name}" TEMPLATE "{self.template_name}"')
            return
        for name in (SQLITE_FILE, f"{SQLITE_FILE}-wal", f"{SQLITE_FILE}-shm"):
            (self.home / name).unlink(missing_ok=True)
            if (self.template / name).exists():
                shutil.copyfile(self.template / name, self.home / name)

    def _empty_drop(self) -> None:
        shutil.rmtree(self.drop, ignore_errors=True)
        for folder in ("import", "synchronize"):
            (self.drop / folder).mkdir(parents=True)

    def drop_all(self) -> None:
        if self.pg:
            self._pg_admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            self._pg_admin(f'DROP DATABASE IF EXISTS "{self.template_name}" WITH (FORCE)')

    def _pg_admin(self, sql: str) -> None:
        import psycopg

        assert self.pg is not None
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]  # names made above, not user input

    # Reading and writing the copy.

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """The rows of a query (`%s` placeholders), as dicts; JSON columns decoded."""
        if self.pg:
            import psycopg
            from psycopg.rows import dict_row

            with psycopg.connect(self.url(self.name), autocommit=True) as conn:
                cursor = conn.cursor(row_factory=dict_row)
                cursor.execute(sql, params)  # type: ignore[arg-type]  # the tests' own queries
                return cursor.fetchall() if cursor.description else []
        conn = sqlite3.connect(self.home / SQLITE_FILE, timeout=30)
        try:
            conn.row_factory = sqlite3.Row
            found = [dict(row) for row in conn.execute(sql.replace("%s", "?"), params)]
            conn.commit()
            return found
        finally:
            conn.close()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.rows(sql, params)

    def jobs(self) -> list[dict[str, Any]]:
        """The jobs run since the template, oldest first."""
        jobs = self.rows("SELECT * FROM jobs_job ORDER BY id")[self.template_jobs :]
        for job in jobs:
            if isinstance(job["checkpoint"], str):
                job["checkpoint"] = json.loads(job["checkpoint"] or "{}")
        return jobs

    def expire_leases(self) -> None:
        """Time passes: every running job's lease runs out."""
        self.execute("UPDATE jobs_job SET lease_until = started_at WHERE status = 'running'")

    def state(self) -> dict[str, Any]:
        """Everything a run leaves, without ids and times: users, identifiers, history counts
        per user, the jobs' counters, records and files, and the drop folder."""
        volatile = {"id", "institution_id", "created_at", "updated_at"}
        users = [
            {k: _plain(v) for k, v in row.items() if k not in volatile}
            for row in self.rows("SELECT * FROM patrons_patron ORDER BY primary_id")
        ]
        identifiers = [
            tuple(_plain(v) for v in row.values())
            for row in self.rows(
                "SELECT p.primary_id, i.id_type, i.value, i.value_key, i.status, i.segment_type "
                "FROM patrons_patronidentifier i JOIN patrons_patron p ON p.id = i.patron_id "
                "ORDER BY p.primary_id, i.id_type, i.value"
            )
        ]
        history = [
            tuple(row.values())
            for row in self.rows(
                "SELECT primary_id, action, COUNT(*) AS n FROM patrons_patronchange "
                "GROUP BY primary_id, action ORDER BY primary_id, action"
            )
        ]
        counters = "status, kind, created, updated, unchanged, rejected, total_records_processed"
        jobs = [
            tuple(row.values()) for row in self.rows(f"SELECT {counters} FROM jobs_job ORDER BY id")
        ][self.template_jobs :]
        records = [
            tuple(row.values())
            for row in self.rows(
                "SELECT file, entry, line, position, match_value, primary_id, outcome, "
                "reason_code FROM jobs_jobrecord ORDER BY file, entry, position, outcome"
            )
        ]
        files = [
            tuple(row.values())
            for row in self.rows(
                "SELECT name, status, users FROM jobs_receivedfile ORDER BY name, status"
            )
        ]
        folder = sorted(p.name for p in (self.drop / "synchronize").iterdir())
        return {
            "users": users,
            "identifiers": identifiers,
            "history": history,
            "jobs": jobs,
            "records": records,
            "files": files,
            "folder": folder,
        }


def _plain(value: Any) -> Any:
    """A column's value as the same thing on either driver (JSON decoded, dates as text)."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def differences(got: dict[str, Any], want: dict[str, Any]) -> list[str]:
    """What differs between two states, part by part and row by row (at most 10 rows each)."""
    found = []
    for part in want:
        if got[part] == want[part]:
            continue
        rows_got, rows_want = got[part], want[part]
        found.append(f"{part}: {len(rows_got)} rows, {len(rows_want)} expected")
        extra = [r for r in rows_got if r not in rows_want][:10]
        missing = [r for r in rows_want if r not in rows_got][:10]
        found += [f"  unexpected {r}" for r in extra] + [f"  missing {r}" for r in missing]
    return found


# Processes.


def children(pid: int) -> list[tuple[int, str]]:
    """The live children of process `pid`, each as (pid, start time)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = _stat(int(entry.name))
        if stat is not None and stat[1] == str(pid) and stat[0] != "Z":
            found.append((int(entry.name), stat[19]))
    return found


def alive(process: tuple[int, str]) -> bool:
    """Whether that very process (the same PID and start time) still runs (a zombie does not)."""
    stat = _stat(process[0])
    return stat is not None and stat[19] == process[1] and stat[0] not in ("Z", "X")


def _stat(pid: int) -> list[str] | None:
    """/proc/PID/stat after the command name: state, ppid, ... (start time at index 19)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def wait_for(condition: Callable[[], Any], what: str, *, poll: float = 0.005) -> Any:
    """Poll `condition` until it is true (and return it); fail after WAIT_SECONDS."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(poll)
    raise AssertionError(f"gave up waiting for {what}")


def kill_when(
    lab: LabDatabase, process: subprocess.Popen[str], position: int
) -> list[tuple[int, str]]:
    """SIGKILL `process` once its job's checkpoint has passed `position`; returns the children
    it had just before (its reading process)."""

    def passed() -> bool:
        if process.poll() is not None:
            _, err = process.communicate()
            raise AssertionError(f"the job ended before position {position}:\n{err}")
        jobs = lab.jobs()
        return bool(jobs) and int(jobs[-1]["checkpoint"].get("position", 0)) >= position

    wait_for(passed, f"position {position}")
    kids = children(process.pid)
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=WAIT_SECONDS)
    return kids
