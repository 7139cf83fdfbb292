"""`patronsync run`, `worker` and `report`: run jobs, print or export their reports."""

from __future__ import annotations

import argparse
import csv
import getpass
import json
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from patronsync.commands import report_console


def print_guard(report: dict[str, Any], console: Console) -> None:
    """The mass-change guard's part of a report: what held the run, the decision, how the plan
    was applied."""
    guard = report.get("guard") or {}
    if not guard.get("plan"):
        return
    counts = guard["plan"]["counts"]
    if "purges" in counts:  # Purge User Records (`jobs.purge`)
        console.print(
            f"Plan: {counts['purges']:,} users to purge, of the profile's "
            f"{guard['plan'].get('profile_users', 0):,}"
        )
    else:
        console.print(
            f"Plan: {counts['creates']:,} to create, {counts['updates']:,} to update "
            f"({counts['segment_removals']:,} losing segments), {counts['expirations']:,} to "
            f"expire, {counts['deactivations']:,} to deactivate; {counts['feed_users']:,} users "
            "in the feed",
            markup=False,
            highlight=False,
        )
    would = "A live run would be held: " if report["dry_run"] else "Held for approval: "
    for finding in guard.get("crossed", []):
        console.print(Text(would + finding["message"], style="yellow"))
    if report["status"] == "held":
        console.print(
            f"Nothing was applied. Later runs of profile {report['profile']} are skipped until "
            f"this job is decided: patronsync job approve {report['job_id']} (or reject)",
            markup=False,
            highlight=False,
        )
    if report.get("decision"):
        console.print(
            f"{report['decision'].capitalize()} by {report['decided_by']} at "
            f"{report['decided_at']}",
            markup=False,
            highlight=False,
        )
    applied = guard.get("applied")
    if applied:
        how = (
            "exactly the plan"
            if applied["as"] == "exact"
            else f"the plan re-checked against changes made since ({applied['rechecked']:,} "
            "users decided again)"
        )
        console.print(f"Applied {how}", markup=False, highlight=False)


def print_purge(purge: dict[str, Any], *, dry_run: bool, console: Console) -> None:
    """A purge job's summary: its users by outcome, its keep policy and day."""
    table = Table(title="Purge User Records", show_header=False)
    rows = [("Users it would purge", purge["would_purge"])] if dry_run else [
        ("Users purged", purge["purged"]),
        ("Listed users left alone", purge["left_alone"]),
    ]  # fmt: skip
    for label, value in rows:
        table.add_row(label, f"{value:,}")
    table.add_row("Keep policy", str(purge["settings"].get("keep", "")))
    table.add_row("Counted from", str(purge["today"]))
    if purge.get("from_dry_run"):
        table.add_row("Users listed by dry run job", str(purge["from_dry_run"]))
    console.print(table)


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
    if report.get("purge"):  # Purge User Records (`jobs.purge`)
        print_purge(report["purge"], dry_run=report["dry_run"], console=console)
    print_guard(report, console)
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


# `patronsync run`'s exit codes, for cron and scripts (docs/jobs.md). 1 is left to Python: an
# unexpected crash of the command itself.
EXIT_COMPLETED = 0
EXIT_USAGE = 2  # a wrong option, no such profile, a section not active, settings that cannot start
EXIT_SKIPPED = 3  # another job of the profile is pending or running: this run is skipped
EXIT_OF_STATUS = {
    "completed": EXIT_COMPLETED,
    "completed_with_errors": 4,  # rejected users, or files with problems: read the report
    "failed": 5,  # an expected failure: a folder missing, a login refused, a file refused
    "errored": 6,  # an unexpected error: its traceback is in the job's log
    "held": 7,  # held by the mass-change guard until someone approves it
    "cancelled": 8,
}
RUN_EXIT_CODES_HELP = """exit codes:
  0  completed successfully
  2  usage or configuration error (an option, no such profile, section not active)
  3  skipped: another job of the profile is pending or running
  4  completed with errors: rejected users or files with problems (see the report)
  5  failed (a folder missing, a login refused, a file refused)
  6  errored (an unexpected error; its traceback is in the job's log)
  7  held for approval
  8  cancelled
"""


def run(args: argparse.Namespace) -> int:
    """Run a profile's job in this process, to its end; the exit code says how it ended."""
    from patronsync.commands import institution_option
    from patronsync.jobs.choices import JobKind
    from patronsync.jobs.progress import RunProgress
    from patronsync.jobs.runner import job_run
    from patronsync.jobs.selectors import job_report
    from patronsync.jobs.services import JobAlreadyRunning, SectionNotActive, job_create
    from patronsync.profiles.models import IntegrationProfile

    institution = institution_option(args.institution)
    profile = IntegrationProfile.objects.filter(institution=institution, code=args.profile).first()
    if profile is None:
        print(f"No profile {args.profile!r} in institution {institution.code}", file=sys.stderr)
        return EXIT_USAGE
    kind = JobKind.IMPORT if args.import_ else JobKind.SYNCHRONIZE
    # With --json the report alone goes to stdout; the progress, to stderr.
    console = report_console(stderr=args.json)
    try:
        job = job_create(profile=profile, kind=kind, dry_run=args.dry_run)
        with RunProgress(job=job, console=console) as progress:
            job = job_run(job=job, progress=progress)
    except SectionNotActive as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    except JobAlreadyRunning as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_SKIPPED
    report = job_report(job=job)
    if args.json:
        print(json.dumps(report, default=str))
    else:
        print_report(report, console)
    return EXIT_OF_STATUS.get(job.status, EXIT_OF_STATUS["errored"])


def job_cancel_command(args: argparse.Namespace) -> int:
    """Cancel a pending or running job (by id or Process ID)."""
    from patronsync.jobs.services import JobNotCancellable, job_cancel

    job = _job(args.job_id)
    if job is None:
        print(f"No job {args.job_id}", file=sys.stderr)
        return EXIT_USAGE
    try:
        job = job_cancel(job=job, actor=f"cli:{getpass.getuser()}")
    except JobNotCancellable as exc:
        print(f"Job {job.pk} (Process ID {job.process_id}): {exc}", file=sys.stderr)
        return 1
    if job.status == "cancelled":
        print(f"Job {job.pk} (Process ID {job.process_id}) {job.title}: cancelled")
    else:
        print(
            f"Job {job.pk} (Process ID {job.process_id}) {job.title}: asked to stop; it ends "
            "cancelled after the batch it is committing"
        )
    return 0


def job_decide_command(args: argparse.Namespace) -> int:
    """Approve or reject a job held by the mass-change guard (by id or Process ID).

    An approved job goes back to pending for a worker; with --run it is applied here, at once,
    and the exit code is `run`'s.
    """
    from patronsync.jobs.runner import job_run
    from patronsync.jobs.selectors import job_report
    from patronsync.jobs.services import (
        JobAlreadyRunning,
        JobNotHeld,
        PlanNoLongerApplies,
        job_approve,
        job_reject,
    )

    job = _job(args.job_id)
    if job is None:
        print(f"No job {args.job_id}", file=sys.stderr)
        return EXIT_USAGE
    actor = f"cli:{getpass.getuser()}"
    try:
        if args.action == "reject":
            job = job_reject(job=job, actor=actor)
            print(f"Job {job.pk} (Process ID {job.process_id}) {job.title}: rejected; nothing "
                  "was applied")  # fmt: skip
            return 0
        job = job_approve(job=job, actor=actor)
    except (JobNotHeld, PlanNoLongerApplies) as exc:
        print(f"Job {job.pk} (Process ID {job.process_id}): {exc}", file=sys.stderr)
        return 1
    if not args.run:
        print(f"Job {job.pk} (Process ID {job.process_id}) {job.title}: approved; the next "
              "worker applies its plan (patronsync worker --once)")  # fmt: skip
        return 0
    try:
        job = job_run(job=job)
    except JobAlreadyRunning as exc:  # a worker took it first
        print(str(exc), file=sys.stderr)
        return EXIT_SKIPPED
    print_report(job_report(job=job), report_console(stderr=False))
    return EXIT_OF_STATUS.get(job.status, EXIT_OF_STATUS["errored"])


def job_monitor_command(args: argparse.Namespace) -> int:
    """Monitor Jobs: running jobs with their progress, the next scheduled runs, the history."""
    from patronsync.core.models import Institution
    from patronsync.jobs.progress import duration_text
    from patronsync.jobs.selectors import job_progress, jobs_monitor

    institutions = Institution.objects.all()
    if args.institution:
        institutions = institutions.filter(code=args.institution)
    monitor = jobs_monitor(institutions=institutions, history=args.history)
    if args.json:
        print(json.dumps(_monitor_json(monitor, job_progress), default=_iso))
        return 0
    console = report_console()
    active = Table(title="Running and pending jobs")
    for column in ("Job", "Process ID", "Profile", "Kind", "Status", "Users", "Rate", "Left"):
        active.add_column(column)
    for job in monitor.active:
        progress = job_progress(job=job)
        done, total = progress["done"], progress["total"]
        users = f"{done:,} of {total:,}" if total is not None else f"{done:,}"
        if total:
            users += f" ({100 * done / total:.0f} %)"
        rate = progress["rate_per_second"]
        eta = progress["eta_seconds"]
        active.add_row(
            str(job.pk), job.process_id, Text(job.profile.code), job.kind, job.status, users,
            f"{rate:,.0f}/s" if rate else "", duration_text(eta) if eta is not None else "",
        )  # fmt: skip
    console.print(active if monitor.active else "No job is running or pending.")
    scheduled = Table(title="Scheduled")
    for column in ("Institution", "Profile", "Section", "Schedule", "Next run"):
        scheduled.add_column(column)
    for section in monitor.scheduled:
        next_run = (
            f"{section.next_runs[0]:%Y-%m-%d %H:%M %Z}" if section.next_runs else "(inactive)"
        )
        scheduled.add_row(
            section.profile.institution.code, Text(section.profile.code), section.label,
            Text(section.description), next_run,
        )  # fmt: skip
    console.print(scheduled if monitor.scheduled else "No profile section is scheduled.")
    history = Table(title=f"History (the latest {args.history})")
    for column in ("Job", "Process ID", "Profile", "Kind", "Status", "Finished", "Users",
                   "Rejected"):  # fmt: skip
        history.add_column(column)
    for job in monitor.history:
        finished = f"{job.finished_at:%Y-%m-%d %H:%M}" if job.finished_at else ""
        history.add_row(
            str(job.pk), job.process_id, Text(job.profile.code), job.kind, job.status, finished,
            f"{job.total_records_processed:,}", f"{job.rejected:,}",
        )  # fmt: skip
    console.print(history if monitor.history else "No job has ended yet.")
    return 0


def _monitor_json(monitor: Any, job_progress: Any) -> dict[str, Any]:
    def job_row(job: Any) -> dict[str, Any]:
        return {
            "id": job.pk, "process_id": job.process_id, "title": job.title,
            "institution": job.institution.code, "profile": job.profile.code, "kind": job.kind,
            "status": job.status, "started_at": job.started_at, "finished_at": job.finished_at,
            "progress": job_progress(job=job), "created": job.created, "updated": job.updated,
            "unchanged": job.unchanged, "rejected": job.rejected,
        }  # fmt: skip

    return {
        "active": [job_row(job) for job in monitor.active],
        "scheduled": [
            {
                "institution": s.profile.institution.code,
                "profile": s.profile.code,
                "kind": s.kind,
                "active": s.active,
                "description": s.description,
                "next_run": s.next_runs[0] if s.next_runs else None,
            }
            for s in monitor.scheduled
        ],
        "history": [job_row(job) for job in monitor.history],
    }


def _iso(value: Any) -> str:
    """Times as ISO 8601, as the API writes them."""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _job(job_id: str) -> Any:
    from patronsync.jobs.models import Job

    by_id = Job.objects.filter(id=int(job_id)).first() if job_id.isdigit() else None
    return by_id or Job.objects.filter(process_id=job_id).first()


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
        print_report(job_report(job=job), report_console())
    return 0


def schedule_list(args: argparse.Namespace) -> int:
    from patronsync.commands import institution_option
    from patronsync.jobs.scheduler import scheduled_sections

    institution = institution_option(args.institution) if args.institution else None
    sections = scheduled_sections(institution=institution)
    if not sections:
        print("No profile section is scheduled: jobs run only when run by hand.")
        return 0
    for section in sections:
        profile = section.profile
        zone = profile.institution.time_zone
        if not section.active:
            when = "not active: does not run"
        elif section.next_runs:
            when = f"next {section.next_runs[0]:%Y-%m-%d %H:%M %Z} ({zone})"
        else:
            when = "no next run"
        print(
            f"{profile.institution.code}  {profile.code}  {section.label}: "
            f"{section.description}; {when}"
        )
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run a profile's Import or Synchronize job now",
        description="Run a profile's job in this process, to its end, then print its report. "
        "On a terminal a progress bar shows users done of the total, the rate and the time "
        "left; elsewhere (cron) a line is printed at each tenth and every 30 s.",
        epilog=RUN_EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("profile", metavar="PROFILE_CODE")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--import", dest="import_", action="store_true", help="Users IMPORT")
    mode.add_argument("--synchronize", action="store_true", help="Users SYNCHRONIZE")
    parser.add_argument("--dry-run", action="store_true", help="plan the changes, write nothing")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    parser.add_argument("--institution", help="institution code (default: the default one)")
    parser.set_defaults(func=run)

    job = subparsers.add_parser(
        "job",
        aliases=["jobs"],
        help="cancel, approve or reject a job; Monitor Jobs (running, scheduled, history)",
    )
    actions = job.add_subparsers(dest="action", metavar="ACTION", required=True)
    cancel = actions.add_parser("cancel", help="cancel a pending or running job")
    cancel.add_argument("job_id", metavar="JOB_ID", help="job id or Process ID")
    cancel.set_defaults(func=job_cancel_command)
    approve = actions.add_parser(
        "approve", help="approve a job held by the mass-change guard: its plan is applied"
    )
    approve.add_argument("job_id", metavar="JOB_ID", help="job id or Process ID")
    approve.add_argument(
        "--run", action="store_true", help="apply the plan here, now (else: the next worker)"
    )
    approve.set_defaults(func=job_decide_command)
    reject = actions.add_parser(
        "reject", help="reject a job held by the mass-change guard: nothing is applied"
    )
    reject.add_argument("job_id", metavar="JOB_ID", help="job id or Process ID")
    reject.set_defaults(func=job_decide_command)
    monitor = actions.add_parser(
        "monitor", help="running jobs with their progress, the next scheduled runs, the history"
    )
    monitor.add_argument("--institution", help="one institution's jobs (default: all)")
    monitor.add_argument("--history", type=int, default=20, help="ended jobs shown (20)")
    monitor.add_argument("--json", action="store_true", help="one JSON object")
    monitor.set_defaults(func=job_monitor_command)
    from .purge_commands import register_job_actions  # `job rejected` (re-post)

    register_job_actions(actions)

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

    schedule = subparsers.add_parser("schedule", help="show when profiles run by themselves")
    schedule_actions = schedule.add_subparsers(
        dest="schedule_command", metavar="ACTION", required=True
    )
    list_parser = schedule_actions.add_parser(
        "list", help="each scheduled section in plain words, with its next run"
    )
    list_parser.add_argument("--institution", help="institution code (default: all)")
    list_parser.set_defaults(func=schedule_list)
