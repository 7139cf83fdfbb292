"""Counting the users of a feed fast: a streaming byte scan for the ``<user>`` start tag.

A job's progress needs its total (how many users its files hold) before it reads them. Parsing
would cost as much as the load itself; this scans each XML entry's bytes, a megabyte at a time
(flat memory, whatever the file's size), for ``<user`` followed by ``>``, ``/``, or white space,
which no other element of Alma's user XML starts with (``<user_group>``, ``<user_role>`` ... do
not count). A ``<user>`` quoted in a comment or CDATA section would be counted too: the count is
a progress total, and the job's own counters stay the truth. The zip is opened with the same
limits as the load (`sources.iter_parts`), so a zip the load refuses is not expanded here.
"""

from __future__ import annotations

import os
import re
import zipfile
import zlib

from patronsync.almaxml.errors import FeedError, Problem
from patronsync.almaxml.sources import DEFAULT_LIMITS, Limits, iter_parts

CHUNK_BYTES = 1024 * 1024
# A <user> start tag: its name, then `>`, `/` or white space (so not <users>, <user_group>).
_START = re.compile(rb"<user[ \t\r\n>/]")
_OVERLAP = 5  # one byte short of a match: a tag cut by a chunk's end is found in the next


def users_count(path: str | os.PathLike[str], *, limits: Limits = DEFAULT_LIMITS) -> int | None:
    """How many users the feed at `path` (a zip of XML files, or one XML file) holds; None when
    it cannot be read or is refused (the load then reports why)."""
    problems: list[Problem] = []
    total = 0
    try:
        for part in iter_parts(path, name=None, limits=limits, problems=problems):
            with part.open() as stream:
                tail = b""
                while chunk := stream.read(CHUNK_BYTES):
                    window = tail + chunk
                    total += len(_START.findall(window))
                    # Kept for the next chunk: too short to hold a whole tag, so never counted
                    # twice, long enough to complete one cut at the boundary.
                    tail = window[-_OVERLAP:]
    except (FeedError, OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error):
        return None
    return total
