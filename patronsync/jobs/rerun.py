"""Run again: a job that loads, as its feed, the users an earlier job rejected.

A job keeps each rejected user's ``<user>`` element on its record (`JobRecord.raw_xml`), as
the feed gave it. Once the cause is fixed (a code added to a code table, a profile setting
changed, another user's identifier corrected), "Run again" creates a job of the same profile
and kind linked to the first (`Job.rerun_of`). Instead of taking files from the server (where
they were renamed `.handled` long ago), its runner writes those elements into one Alma User XML
document and loads it through the same engine path as any file: rules, matching, Swap All,
history and the report work as for any run. A user that was fixed some other way in between is
matched and comes out unchanged or updated, never created twice; a user rejected again keeps its
XML on the new job's records, so a re-run can be run again in turn.

`job_rejected_xml` and `job_rejected_feed` are the general part: the rejected records' XML of a
job, one element at a time or as a whole feed, for any caller that re-posts them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from patronsync.core.crypto import decrypt_bytes

from .choices import ACTIVE_STATUSES, RecordOutcome
from .models import Job, JobRecord

FEED_HEAD = b'<?xml version="1.0" encoding="UTF-8"?>\n<users>\n'
FEED_TAIL = b"</users>\n"


def _rejected(job: Job) -> Iterator[JobRecord]:
    return (
        JobRecord.objects.filter(job=job, outcome=RecordOutcome.REJECTED)
        .order_by("id")
        .only("id", "raw_xml")
        .iterator(chunk_size=500)
    )


def job_rejected_xml(*, job: Job) -> Iterator[bytes]:
    """Each rejected user's ``<user>`` element of `job`, in feed order, as the feed gave it.

    Records whose XML was not kept are left out (see `job_rejected_count_without_xml`).
    """
    for record in _rejected(job):
        if record.raw_xml:
            yield decrypt_bytes(bytes(record.raw_xml))


def job_rerunnable(*, job: Job) -> bool:
    """Whether "Run again" has something to load: `job` ended, and a rejected user of it kept
    its XML."""
    if job.status in ACTIVE_STATUSES:
        return False
    return JobRecord.objects.filter(
        job=job, outcome=RecordOutcome.REJECTED, raw_xml__isnull=False
    ).exists()


def job_rejected_count_without_xml(*, job: Job) -> int:
    """How many of `job`'s rejected users kept no XML, so that no re-run can load them.

    An Import keeps the XML of the users its rules refuse (an unknown code, a bad date) but not
    of those it refuses later for a value another user holds (`ALREADY_EXISTS`, a duplicate in
    the feed): it has let go of their bytes by then. Jobs run before XML was kept have none.
    """
    return (
        JobRecord.objects.filter(job=job, outcome=RecordOutcome.REJECTED)
        .filter(raw_xml__isnull=True)
        .count()
    )


def job_rejected_feed(*, job: Job) -> Iterator[bytes]:
    """The rejected users of `job` as one Alma User XML document, in chunks.

    Each element is written with its bytes unchanged, one per line, so that a plain feed's user
    has the same raw hash as in the file it came from.
    """
    yield FEED_HEAD
    for element in job_rejected_xml(job=job):
        yield element
        yield b"\n"
    yield FEED_TAIL


@dataclass(frozen=True)
class RerunFeed:
    """The feed a re-run job loads: its file, the content's sha256 and how many users it has."""

    path: Path
    name: str
    sha256: str
    users: int


def rerun_feed_name(*, source: Job) -> str:
    """The name the re-run's feed goes by in its report and records."""
    return f"rejected-users-of-job-{source.process_id}.xml"


def rerun_feed_write(*, source: Job, folder: Path) -> RerunFeed:
    """Write the rejected users of `source` as a feed file in `folder`.

    The content depends only on `source`'s records, so a resumed re-run writes the very same
    bytes and finds its place by their sha256, as a resumed job does with a file.
    """
    name = rerun_feed_name(source=source)
    path = folder / name
    digest = hashlib.sha256()
    users = 0
    with path.open("wb") as out:
        for chunk in job_rejected_feed(job=source):
            out.write(chunk)
            digest.update(chunk)
            users += chunk.startswith(b"<user")  # an element (the head and tail are not)
    return RerunFeed(path=path, name=name, sha256=digest.hexdigest(), users=users)
