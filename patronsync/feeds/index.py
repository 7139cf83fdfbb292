"""A temporary on-disk index of a feed's users by primary ID, so that memory stays flat.

`feed pack` looks up each primary ID once, to find the users a feed holds twice; `feed diff`
keeps OLD's users (content hash and canonical fields) to compare NEW's with. A feed of a
million users would take hundreds of megabytes in a dict; in a SQLite file in a temporary
folder it takes a few megabytes of cache, whatever its size. The folder is removed on close.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from types import TracebackType

from patronsync.patrons.limits import identifier_key

__all__ = ["UserIndex", "identifier_key"]

_BATCH = 2_000  # rows written between commits


class UserIndex:
    """Primary ID keys (Alma's case-insensitive comparison, `identifier_key`) to a location,
    and, for a diff, a content hash and the user's canonical fields as JSON text."""

    def __init__(self) -> None:
        self._folder = tempfile.mkdtemp(prefix="patronsync-feed-")
        self._db = sqlite3.connect(os.path.join(self._folder, "users.sqlite3"))
        self._db.executescript(
            """
            PRAGMA journal_mode = OFF;
            PRAGMA synchronous = OFF;
            PRAGMA temp_store = FILE;
            CREATE TABLE users (
                key TEXT PRIMARY KEY,
                primary_id TEXT NOT NULL,
                location TEXT NOT NULL,
                hash TEXT NOT NULL DEFAULT '',
                fields TEXT NOT NULL DEFAULT '',
                seen INTEGER NOT NULL DEFAULT 0
            );
            """
        )
        self._pending = 0
        self.count = 0

    def __enter__(self) -> UserIndex:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Drop the index and its folder."""
        self._db.close()
        shutil.rmtree(self._folder, ignore_errors=True)

    def _written(self) -> None:
        self._pending += 1
        if self._pending >= _BATCH:
            self._db.commit()
            self._pending = 0

    def add(
        self, primary_id: str, location: str, *, hash: str = "", fields: str = ""
    ) -> str | None:
        """Index a user; when its key is there already, nothing changes and the location of
        the user that holds it is returned (a duplicate), else None."""
        key = identifier_key(primary_id)
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO users (key, primary_id, location, hash, fields) "
            "VALUES (?, ?, ?, ?, ?)",
            (key, primary_id, location, hash, fields),
        )
        if cursor.rowcount:
            self.count += 1
            self._written()
            return None
        row = self._db.execute("SELECT location FROM users WHERE key = ?", (key,)).fetchone()
        return str(row[0])

    def take(self, primary_id: str) -> tuple[str, str, str, str, bool] | None:
        """(primary ID, location, hash, fields, seen before) of the indexed user with this
        key, which is marked seen; None when there is none."""
        key = identifier_key(primary_id)
        row = self._db.execute(
            "SELECT primary_id, location, hash, fields, seen FROM users WHERE key = ?", (key,)
        ).fetchone()
        if row is None:
            return None
        if not row[4]:
            self._db.execute("UPDATE users SET seen = 1 WHERE key = ?", (key,))
            self._written()
        return str(row[0]), str(row[1]), str(row[2]), str(row[3]), bool(row[4])

    def unseen(self) -> Iterator[tuple[str, str]]:
        """(primary ID, location) of the users never taken, in the order they were indexed."""
        self._db.commit()
        query = "SELECT primary_id, location FROM users WHERE seen = 0 ORDER BY rowid"
        for primary_id, location in self._db.execute(query):
            yield str(primary_id), str(location)
