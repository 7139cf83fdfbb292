"""Re-post: a job's rejected users as a zipped Alma User XML feed, to download and send again.

The first half of re-posting (the second is "Run again", `jobs.rerun`): the rejected users'
``<user>`` elements exactly as the feed sent them (`JobRecord.raw_xml`, see
`jobs.rerun.job_rejected_feed`), in one XML file inside a zip, as a Synchronize or Import takes
it from its folder. The IT department may fix the records and deliver the zip again; or, once
the cause is fixed in patronsync (a code added), the zip loads as it is.

Users whose XML the job did not keep (an Import's ALREADY_EXISTS and in-feed duplicates) are
not in it: `job_rejected_count_without_xml` counts them, and the download says how many.
"""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path
from typing import IO

from .models import Job
from .rerun import job_rejected_feed, rerun_feed_name


def job_rejected_zip_name(*, job: Job) -> str:
    """The download's file name: `rejected-users-of-job-<Process ID>.zip`."""
    return rerun_feed_name(source=job).removesuffix(".xml") + ".zip"


def job_rejected_zip_write(*, job: Job, target: IO[bytes]) -> int:
    """Write the rejected users of `job` to `target` as a zip of one Alma User XML file, in
    chunks (a million rejected users take no more memory than one); returns how many users."""
    users = 0
    with (
        zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open(rerun_feed_name(source=job), "w", force_zip64=True) as entry,
    ):
        for chunk in job_rejected_feed(job=job):
            entry.write(chunk)
            users += chunk.startswith(b"<user")  # an element (the head and tail are not)
    return users


def job_rejected_zip_file(*, job: Job) -> tuple[IO[bytes], int]:
    """The rejected users' zip in a temporary file (kept in memory up to 8 MB), rewound, and
    how many users it holds; the caller closes it."""
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    users = job_rejected_zip_write(job=job, target=spool)
    spool.seek(0)
    return spool, users


def job_rejected_zip_save(*, job: Job, path: Path) -> int:
    """Write the rejected users' zip to `path` (through `path.part`, renamed once whole, so a
    half-written zip is never left under its name); returns how many users it holds."""
    part = path.with_name(path.name + ".part")
    try:
        with part.open("wb") as out:
            users = job_rejected_zip_write(job=job, target=out)
        part.replace(path)
    finally:
        part.unlink(missing_ok=True)
    return users
