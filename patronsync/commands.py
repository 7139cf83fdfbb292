"""`patronsync serve`, and the helpers the apps' commands share (`institution_option`).

These belong to no app: `serve` runs every app's pages and APIs, and the helpers read the
command line the same way for each app. The apps' own commands live in their `commands.py`.
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from patronsync.core.models import Institution

# Read by config/settings/dev.py: "1" turns DEBUG on; only `serve --dev` sets it.
SERVE_DEV_VARIABLE = "PATRONSYNC_SERVE_DEV"


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
    """Migrate, then run the web UI, the APIs and the admin on Django's threaded server.

    DEBUG is on only with `--dev`: the flag is put in this process's environment before Django
    reads its settings (config/settings/dev.py reads it), whatever else the environment says.
    The server also serves the static files (the admin's CSS) itself, DEBUG or not
    (`insecure_serving`): a single-machine server, not a hardened one; under a production WSGI
    server use `config.wsgi` instead.
    """
    os.environ[SERVE_DEV_VARIABLE] = "1" if args.dev else "0"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    call_command("runserver", f"{args.host}:{args.port}", use_reloader=False, insecure_serving=True)
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("serve", help="run the web server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--dev",
        action="store_true",
        help="development only: Django's debug mode, whose error pages show the settings",
    )
    parser.set_defaults(func=serve, needs_django=False)
