"""`patronsync run`, `worker` and `report`: run jobs, print or export their reports."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text


def print_report(report: dict[str, Any], console: Console) -> None:
    """Render a job report the way Alma's "Patron Import Results" page lays it out.

    What a feed or a profile wrote (file names, primary IDs, reasons, problems, titles) is
    printed as text, never read as rich markup: a primary ID such as ``[/]`` shows as it is.
    """
    console.print(f"[bold]{escape(report['report'])}[/bold]: {escape(report['title'])}")
    console.print(
        f"Status: [bold]{report['status_label']}[/bold]   Process ID: {report['process_id']}   "
        f"Total run time: {report['total_run_time_seconds']} s"
        + ("   [yellow]DRY RUN: nothing was written[/yellow]" if report["dry_run"] else "")
    )
    console.print(f"Started: {report['started']}   Finished: {report['finished']}")
    summary = Table(title="Summary", show_header=False)
    for label, key in [
        ("Total records processed", "total_records_processed"),
        ("Total users processed", "total_users_processed"),
        ("Total users rejected", "rejected"),
        ("Total users updated successfully", "updated"),
        ("Total users created successfully", "created"),
        ("Total users unchanged", "unchanged"),
    ]:
        summary.add_row(label, f"{report[key]:,}")
    console.print(summary)
    params = Table(title="Job parameters", show_header=False)
    for key, value in report["parameters"].items():
        params.add_row(Text(str(key)), Text(str(value)))
    console.print(params)
    if report["files"]:
        files = Table(title="Users by file")
        files.add_column("File")
        files.add_column("Users", justify="right")
        files.add_column("Problems")
        # A file whose bytes were taken before is loaded again: say which taking it repeats.
        repeating = any(entry.get("repeats") for entry in report["files"])
        if repeating:
            files.add_column("Same content as")
        for entry in report["files"]:
            problems = "; ".join(p["message"] for p in entry.get("problems", []))
            row = [Text(entry["name"]), Text(f"{entry.get('users', 0):,}"), Text(problems)]
            if repeating:
                repeats = entry.get("repeats")
                same = f"{repeats['file']} (job {repeats['job_id']})" if repeats else ""
                row.append(Text(same))
            files.add_row(*row)
        console.print(files)
    if report["log"]:  # e.g. "No new zip files in synchronize"
        console.print("[bold]Job log[/bold]")
        for line in report["log"]:
            console.print(line, markup=False, highlight=False)
    if report["rejected_users"]:
        rejected = Table(title="Rejected users")
        for column in ("Position", "User", "Reason"):
            rejected.add_column(column)
        for row in report["rejected_users"][:50]:
            where = f"{row['file']}{':' + row['entry'] if row['entry'] else ''}:{row['line']}"
            user = row["primary_id"] or row["match_value"]
            rejected.add_row(Text(where), Text(user), Text(row["reason"]))
        console.print(rejected)
        if report["rejected"] > 50:
            console.print(
                f"... {report['rejected'] - 50:,} more: patronsync report {report['job_id']} --csv"
            )


def run(args: argparse.Namespace) -> int:
    from patronsync.commands import institution_option
    from patronsync.jobs.choices import JobKind
    from patronsync.jobs.selectors import job_report
    from patronsync.jobs.services import JobAlreadyRunning, SectionNotActive, profile_run
    from patronsync.profiles.models import IntegrationProfile

    institution = institution_option(args.institution)
    profile = IntegrationProfile.objects.filter(institution=institution, code=args.profile).first()
    if profile is None:
        print(f"No profile {args.profile!r} in institution {institution.code}", file=sys.stderr)
        return 2
    kind = JobKind.IMPORT if args.import_ else JobKind.SYNCHRONIZE
    console = Console(stderr=args.json)
    try:
        if console.is_terminal and not args.json:
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
            ) as bar:
                task = bar.add_task("Users", total=None)
                job = profile_run(
                    profile=profile,
                    kind=kind,
                    dry_run=args.dry_run,
                    progress=lambda n: bar.advance(task, n),
                )
        else:
            job = profile_run(profile=profile, kind=kind, dry_run=args.dry_run)
    except SectionNotActive as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except JobAlreadyRunning as exc:
        print(str(exc), file=sys.stderr)
        return 3
    report = job_report(job=job)
    if args.json:
        print(json.dumps(report, default=str))
    else:
        print_report(report, console)
    return 0 if job.status in ("completed", "completed_with_errors") else 1


def worker(args: argparse.Namespace) -> int:
    """The embedded worker (every --interval seconds, or --once), or a Celery worker."""
    if args.celery:
        return celery_worker(args)
    if args.beat:
        print("--beat goes with --celery (the embedded worker fires schedules itself)")
        return 2
    from patronsync.jobs.worker import worker_run

    def say(line: str) -> None:
        print(line, flush=True)  # one line per job, for cron's mail and systemd's journal

    return worker_run(once=args.once, interval=args.interval, say=say)


def celery_worker(args: argparse.Namespace) -> int:
    """A Celery worker for PATRONSYNC_BROKER_URL, as `celery -A config worker` (with beat
    inside with --beat: one per installation)."""
    from django.conf import settings

    if not settings.PATRONSYNC_BROKER_URL:
        print(
            "patronsync worker --celery: PATRONSYNC_BROKER_URL is not set (redis://HOST:6379/0 "
            "or amqp://USER:PASSWORD@HOST:5672//); without a broker run `patronsync worker`",
            file=sys.stderr,
        )
        return 2
    from config.celery import app

    argv = ["worker", "--loglevel", args.loglevel]
    if args.concurrency:
        argv += ["--concurrency", str(args.concurrency)]
    if args.beat:
        argv += ["--beat", "--scheduler", "django"]
    app.worker_main(argv)
    return 0


def report(args: argparse.Namespace) -> int:
    from patronsync.core.csvsafe import csv_safe_row
    from patronsync.jobs.models import Job
    from patronsync.jobs.selectors import RECORD_CSV_FIELDS, job_records, job_report

    job = (
        Job.objects.filter(id=args.job_id).first()
        or Job.objects.filter(process_id=str(args.job_id)).first()
    )
    if job is None:
        print(f"No job {args.job_id}", file=sys.stderr)
        return 2
    if args.csv:
        writer = csv.writer(sys.stdout)
        fields = RECORD_CSV_FIELDS
        writer.writerow(fields)
        for row in job_records(job=job).values_list(*fields).iterator():
            writer.writerow(csv_safe_row(row))
        return 0
    if args.json:
        print(json.dumps(job_report(job=job), default=str))
    else:
        print_report(job_report(job=job), Console())
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("run", help="run a profile's Import or Synchronize job now")
    parser.add_argument("profile", metavar="PROFILE_CODE")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--import", dest="import_", action="store_true", help="Users IMPORT")
    mode.add_argument("--synchronize", action="store_true", help="Users SYNCHRONIZE")
    parser.add_argument("--dry-run", action="store_true", help="plan the changes, write nothing")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    parser.add_argument("--institution", help="institution code (default: the default one)")
    parser.set_defaults(func=run)

    parser = subparsers.add_parser(
        "worker",
        help="run the jobs: the scheduled ones when due, those the API started (docs/workers.md)",
    )
    parser.add_argument(
        "--once", action="store_true", help="fire what is due, run what waits, then exit (cron)"
    )
    parser.add_argument(
        "--interval",
        type=float,
        help="seconds between two passes (default: PATRONSYNC_WORKER_INTERVAL, 15)",
    )
    parser.add_argument(
        "--celery",
        action="store_true",
        help="run a Celery worker for PATRONSYNC_BROKER_URL instead (celery -A config worker)",
    )
    parser.add_argument(
        "--beat", action="store_true", help="with --celery: run celery beat inside (one of them)"
    )
    parser.add_argument("--concurrency", type=int, help="with --celery: worker processes")
    parser.add_argument("--loglevel", default="INFO", help="with --celery: Celery's log level")
    parser.set_defaults(func=worker)

    parser = subparsers.add_parser("report", help="print a job's report, or its records as CSV")
    parser.add_argument("job_id", metavar="JOB_ID", help="job id or Process ID")
    parser.add_argument(
        "--csv", action="store_true", help="every record as CSV (the alternative report)"
    )
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(func=report)
