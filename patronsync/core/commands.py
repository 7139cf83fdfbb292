"""`patronsync serve` and `patronsync quickstart`: run the web server, set up a demo instance."""

from __future__ import annotations

import argparse
from typing import Any


def institution_option(code: str | None) -> Any:
    """The institution a command's `--institution CODE` names, or the default one.

    Exits with a message naming the code when there is no such institution.
    """
    from patronsync.core.models import Institution
    from patronsync.core.services import institution_get_or_create_default

    if not code:
        return institution_get_or_create_default()
    institution = Institution.objects.filter(code=code).first()
    if institution is None:
        raise SystemExit(f"No institution with code {code!r}")
    return institution


def serve(args: argparse.Namespace) -> int:
    """Run the web UI, the APIs and the admin (Django's threaded server; see docs/deployment.md
    for running under a production WSGI server)."""
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    call_command("runserver", f"{args.host}:{args.port}", use_reloader=False, insecure_serving=True)
    return 0


def quickstart(args: argparse.Namespace) -> int:
    """Migrate, set up the demo, run a Synchronize job on a sample feed and print its report."""
    from django.core.management import call_command
    from rich.console import Console

    from patronsync.core.demo import demo_load
    from patronsync.jobs.commands import print_report
    from patronsync.jobs.selectors import job_report

    call_command("migrate", interactive=False, verbosity=0)
    lines, job = demo_load(admin_username=args.admin, users=args.users)
    console = Console()
    for line in lines:
        console.print(line)
    print_report(job_report(job=job), console)
    return 0 if job.status in ("completed", "completed_with_errors") else 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("serve", help="run the web server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.set_defaults(func=serve)

    parser = subparsers.add_parser(
        "quickstart", help="set up the embedded database, sync a sample feed and print the report"
    )
    parser.add_argument("--admin", default="admin", help="username of the demo admin account")
    parser.add_argument("--users", type=int, default=2000, help="users in the sample feed")
    parser.set_defaults(func=quickstart)
