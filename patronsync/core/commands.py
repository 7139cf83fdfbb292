"""`patronsync serve` and `patronsync quickstart`: run the web server, set up a demo instance."""

from __future__ import annotations

import argparse
from typing import Any


def serve(args: argparse.Namespace) -> int:
    """Run the web UI, the APIs and the admin (Django's threaded server; see docs/deployment.md
    for running under a production WSGI server)."""
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    call_command("runserver", f"{args.host}:{args.port}", use_reloader=False, insecure_serving=True)
    return 0


def quickstart(args: argparse.Namespace) -> int:
    """Migrate, make sure the default institution and an admin exist, load the demo data."""
    from django.core.management import call_command

    from patronsync.core.demo import demo_load

    call_command("migrate", interactive=False, verbosity=0)
    summary = demo_load(admin_username=args.admin)
    for line in summary:
        print(line)
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("serve", help="run the web server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.set_defaults(func=serve)

    parser = subparsers.add_parser(
        "quickstart", help="set up the embedded database with demo data and an admin account"
    )
    parser.add_argument("--admin", default="admin", help="username of the demo admin account")
    parser.set_defaults(func=quickstart)
