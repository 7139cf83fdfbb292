"""The `patronsync` command: a thin dispatcher to services and to Django's management commands.

Subcommands of its own are registered by the modules listed in COMMAND_MODULES (each has a
`register(subparsers)`): the apps' `*/commands.py`, the quick start's `demo/commands.py`, and
`patronsync/commands.py` for `serve` and the helpers they share. Anything else is handed to
Django, so `patronsync migrate` works.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

COMMAND_MODULES = (
    "patronsync.commands",
    "patronsync.demo.commands",
    "patronsync.accounts.commands",
    "patronsync.jobs.commands",
    "patronsync.jobs.purge_commands",
    "patronsync.profiles.commands",
    "patronsync.feeds.commands",
    "patronsync.connections.commands",
    "patronsync.core.commands",
    "patronsync.notifications.commands",
    "patronsync.patrons.commands",
)


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    import django

    django.setup()


def build_parser() -> tuple[argparse.ArgumentParser, set[str]]:
    """The parser, and the names of patronsync's own subcommands."""
    parser = argparse.ArgumentParser(
        prog="patronsync",
        description="patronsync: synchronize library patrons from Alma user XML feeds.",
        epilog="Any other command is passed to Django's manage.py (e.g. `patronsync migrate`).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser, set(subparsers.choices)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; a configuration that cannot start (ImproperlyConfigured: a key missing
    in production, a malformed setting) stops it with one line on stderr and exit code 2."""
    from django.core.exceptions import ImproperlyConfigured

    try:
        return _main(argv)
    except ImproperlyConfigured as exc:
        print(f"patronsync: {exc}", file=sys.stderr)
        return 2


def _main(argv: Sequence[str] | None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser, own_commands = build_parser()
    if args_list and args_list[0] not in own_commands and not args_list[0].startswith("-"):
        _setup_django()
        from django.core.management import execute_from_command_line

        execute_from_command_line(["patronsync", *args_list])
        return 0
    args = parser.parse_args(args_list)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if getattr(args, "needs_django", True):
        _setup_django()
    result = args.func(args)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
