"""`patronsync purge` (Purge User Records) and `patronsync job rejected` (re-post a job's
rejected users as a zip)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .commands import EXIT_OF_STATUS, EXIT_SKIPPED, EXIT_USAGE, RUN_EXIT_CODES_HELP

PURGE_HELP = """Purge User Records of a profile's users, as Alma's job: the users whose
purge date is more than the profile's days_after_purge_date days in the past, within its
filters, less the exempt ones, are removed or anonymised (the profile's `purge:` settings,
docs/jobs.md). A dry run lists them and writes nothing; --from-dry-run JOB_ID purges exactly
the users that dry run listed. A purge over the mass-change guard's leavers thresholds is held
for approval (exit 7).
"""


def purge_command(args: argparse.Namespace) -> int:
    """Run a purge of the profile's users in this process, to its end; exit code as `run`."""
    from patronsync.commands import institution_option, report_console
    from patronsync.core.exceptions import ConfigurationError
    from patronsync.jobs.commands import _job, print_report
    from patronsync.jobs.progress import RunProgress
    from patronsync.jobs.purge import PurgeNotStartable, profile_purge_start
    from patronsync.jobs.runner import job_run
    from patronsync.jobs.selectors import job_report
    from patronsync.jobs.services import JobAlreadyRunning
    from patronsync.profiles.models import IntegrationProfile

    institution = institution_option(args.institution)
    profile = IntegrationProfile.objects.filter(institution=institution, code=args.profile).first()
    if profile is None:
        print(f"No profile {args.profile!r} in institution {institution.code}", file=sys.stderr)
        return EXIT_USAGE
    source = None
    if args.from_dry_run:
        source = _job(args.from_dry_run)
        if source is None or source.institution_id != institution.pk:
            print(f"No job {args.from_dry_run} in institution {institution.code}", file=sys.stderr)
            return EXIT_USAGE
    console = report_console(stderr=args.json)
    try:
        job = profile_purge_start(profile=profile, dry_run=args.dry_run, from_dry_run=source)
        with RunProgress(job=job, console=console) as progress:
            job = job_run(job=job, progress=progress)
    except (PurgeNotStartable, ConfigurationError) as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    except JobAlreadyRunning as exc:  # a job of the profile pending, running or held
        print(str(exc), file=sys.stderr)
        return EXIT_SKIPPED
    report = job_report(job=job)
    if args.json:
        print(json.dumps(report, default=str))
    else:
        print_report(report, console)
    return EXIT_OF_STATUS.get(job.status, EXIT_OF_STATUS["errored"])


def job_rejected_command(args: argparse.Namespace) -> int:
    """Write a job's rejected users, as the feed sent them, to a zip to deliver again."""
    from patronsync.jobs.commands import _job
    from patronsync.jobs.repost import job_rejected_zip_save
    from patronsync.jobs.rerun import job_rejected_count_without_xml

    job = _job(args.job_id)
    if job is None:
        print(f"No job {args.job_id}", file=sys.stderr)
        return EXIT_USAGE
    path = Path(args.output)
    if path.suffix.lower() != ".zip":
        print(f"{path}: name the zip to write, ending in .zip", file=sys.stderr)
        return EXIT_USAGE
    try:
        users = job_rejected_zip_save(job=job, path=path)
    except OSError as exc:
        print(f"{path}: cannot be written: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    missing = job_rejected_count_without_xml(job=job)
    print(
        f"{path}: {users:,} rejected user{'s' if users != 1 else ''} of job {job.pk} "
        f"(Process ID {job.process_id}), as the feed sent them"
    )
    if missing:
        print(
            f"{missing:,} rejected users kept no XML (refused for a value another user holds, "
            "or a duplicate in the feed) and are not in the zip",
            file=sys.stderr,
        )
    return 0


def register_job_actions(actions: Any) -> None:
    """`patronsync job rejected`, under `patronsync job`."""
    rejected = actions.add_parser(
        "rejected",
        help="write a job's rejected users, as the feed sent them, to a zip to load again",
        description="Write the users a job rejected to a zip of one Alma User XML file, each "
        "<user> element exactly as the feed sent it: fix them and deliver the zip again, or "
        "load it as it is once the cause is fixed (a code added). Users whose XML the job did "
        "not keep are counted on stderr.",
    )
    rejected.add_argument("job_id", metavar="JOB_ID", help="job id or Process ID")
    rejected.add_argument("-o", "--output", required=True, metavar="FILE.zip")
    rejected.set_defaults(func=job_rejected_command)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "purge",
        help="Purge User Records of a profile's users (remove or anonymise them)",
        description=PURGE_HELP,
        epilog=RUN_EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("profile", metavar="PROFILE_CODE")
    parser.add_argument("--dry-run", action="store_true", help="list the users, write nothing")
    parser.add_argument(
        "--from-dry-run",
        metavar="JOB_ID",
        help="purge exactly the users this dry run (job id or Process ID) listed",
    )
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    parser.add_argument("--institution", help="institution code (default: the default one)")
    parser.set_defaults(func=purge_command)
