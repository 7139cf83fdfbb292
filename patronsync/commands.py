"""`patronsync serve`, and the helpers the apps' commands share (`institution_option`).

These belong to no app: `serve` runs every app's pages and APIs, and the helpers read the
command line the same way for each app. The apps' own commands live in their `commands.py`.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from patronsync.core.models import Institution


def institution_option(code: str | None) -> Institution:
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
    """Migrate, then run the web UI, the APIs and the admin on Django's threaded server, which
    also serves the static files (`insecure_serving`): a single-machine server, not a hardened
    one; under a production WSGI server use `config.wsgi` instead."""
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    call_command("runserver", f"{args.host}:{args.port}", use_reloader=False, insecure_serving=True)
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("serve", help="run the web server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.set_defaults(func=serve)
