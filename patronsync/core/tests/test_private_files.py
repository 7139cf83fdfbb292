"""The data directory and the SQLite database are readable by their owner alone."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator

import pytest
from django.db.utils import ConnectionHandler

from config.settings.base import SQLITE_ENGINE, private_dir_make


def mode_of(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The umask of most systems (0022), under which SQLite alone makes files 0644."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def open_wal_database(path) -> None:
    """Open `path` through patronsync's SQLite backend in WAL mode, and write to it."""
    handler = ConnectionHandler(
        {
            "default": {
                "ENGINE": SQLITE_ENGINE,
                "NAME": path,
                "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL;"},
            }
        }
    )
    connection = handler["default"]
    try:
        with connection.cursor() as cursor:
            cursor.execute("CREATE TABLE t (a INTEGER)")
            cursor.execute("INSERT INTO t VALUES (1)")
        assert (path.parent / (path.name + "-wal")).exists()  # still open: the WAL is there
        for suffix in ("", "-wal", "-shm"):
            assert mode_of(path.parent / (path.name + suffix)) == 0o600, suffix
    finally:
        connection.close()


def test_new_database_and_its_wal_files_are_created_0600(tmp_path, django_db_blocker):
    with django_db_blocker.unblock():  # a database of its own, not the test database
        open_wal_database(tmp_path / "patronsync.sqlite3")

    assert mode_of(tmp_path / "patronsync.sqlite3") == 0o600


def test_a_world_readable_database_of_an_older_version_is_made_0600(tmp_path, django_db_blocker):
    path = tmp_path / "patronsync.sqlite3"
    path.touch(mode=0o644)
    path.chmod(0o644)

    with django_db_blocker.unblock():
        open_wal_database(path)

    assert mode_of(path) == 0o600


def test_data_directory_is_created_0700(tmp_path):
    made = private_dir_make(tmp_path / "srv" / "patronsync")

    assert mode_of(made) == 0o700


def test_an_existing_data_directory_keeps_its_mode(tmp_path):
    existing = tmp_path / "shared"
    existing.mkdir()
    existing.chmod(0o750)

    private_dir_make(existing)

    assert mode_of(existing) == 0o750
