"""`patronsync config apply FILE`: declare code tables, connections and profiles in YAML,
idempotently. (`patronsync schedule list` is the scheduler's: jobs/commands.py.)"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def apply(args: argparse.Namespace) -> int:
    from patronsync.commands import institution_option
    from patronsync.core.exceptions import ConfigurationError
    from patronsync.profiles.services import config_apply_file

    try:
        institution = institution_option(args.institution)
        path = Path(args.file)
        lines = config_apply_file(institution=institution, path=path, actor="config apply")
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for line in lines:
        print(line)
    if all(line.endswith(": unchanged") for line in lines):
        print(f"{path}: nothing changed")
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("config", help="apply a configuration file")
    actions = parser.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    apply_parser = actions.add_parser(
        "apply", help="create or update code-table rows, connections and profiles"
    )
    apply_parser.add_argument("file", metavar="FILE")
    apply_parser.add_argument("--institution", help="institution code (default: the default one)")
    apply_parser.set_defaults(func=apply)
