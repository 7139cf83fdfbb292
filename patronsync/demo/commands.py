"""`patronsync quickstart`: set up a demo instance, synchronize a sample feed, print the report."""

from __future__ import annotations

import argparse
from typing import Any


def quickstart(args: argparse.Namespace) -> int:
    """Migrate, set up the demo, run a Synchronize job on a sample feed and print its report."""
    from django.core.management import call_command

    from patronsync.commands import report_console
    from patronsync.demo.services import demo_load
    from patronsync.jobs.commands import print_report
    from patronsync.jobs.selectors import job_report

    call_command("migrate", interactive=False, verbosity=0)
    lines, job = demo_load(admin_username=args.admin, users=args.users)
    console = report_console()
    for line in lines:
        console.print(line)
    print_report(job_report(job=job), console)
    console.print(
        "Web pages: run `patronsync serve` and log in at http://127.0.0.1:8000/login/ with the "
        "admin account (Configuration > External Systems has the profile and its connection)."
    )
    return 0 if job.status in ("completed", "completed_with_errors") else 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "quickstart", help="set up the embedded database, sync a sample feed and print the report"
    )
    parser.add_argument("--admin", default="admin", help="username of the demo admin account")
    parser.add_argument("--users", type=int, default=2000, help="users in the sample feed")
    parser.set_defaults(func=quickstart)
