"""Django's SQLite backend, with the database file readable by its owner alone.

SQLite creates a database file with mode 0644 less the umask, so on most systems every local
account could read the users, the API key hashes and the sessions. This backend creates the file
0600 before SQLite opens it (SQLite gives its -wal and -shm files the database file's mode), and
takes group and other permissions away from one an older version made.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from django.db.backends.sqlite3 import base

PRIVATE_FILE_MODE = 0o600
COMPANION_SUFFIXES = ("", "-wal", "-shm", "-journal")


def sqlite_file_make_private(name: str | os.PathLike[str]) -> None:
    """Create the database file `name` (mode 0600) if missing; make it and its companions
    (-wal, -shm, -journal) owner-only if they are not. In-memory databases are left alone."""
    text = os.fspath(name)
    if not text or text == ":memory:" or text.startswith("file:"):
        return
    path = Path(text)
    if not path.exists() and path.parent.is_dir():  # else SQLite says it cannot open it
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE_MODE))
    for suffix in COMPANION_SUFFIXES:
        companion = path.with_name(path.name + suffix)
        try:
            mode = stat.S_IMODE(companion.stat().st_mode)
        except FileNotFoundError:
            continue
        if mode & 0o077:
            companion.chmod(mode & 0o700)


class DatabaseWrapper(base.DatabaseWrapper):
    """Django's SQLite connection; the database file is made owner-only before it opens."""

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        sqlite_file_make_private(conn_params["database"])
        return super().get_new_connection(conn_params)
