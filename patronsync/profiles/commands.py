"""`patronsync config apply FILE`: declare code tables, connections and profiles in YAML,
idempotently; `patronsync schedule list`: when the profiles' sections run."""

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
    parser = subparsers.add_parser("config", help="apply a configuration file")
    actions = parser.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    apply_parser = actions.add_parser(
        "apply", help="create or update code-table rows, connections and profiles"
    )
    apply_parser.add_argument("file", metavar="FILE")
    apply_parser.add_argument("--institution", help="institution code (default: the default one)")
    apply_parser.set_defaults(func=apply)

    schedule = subparsers.add_parser("schedule", help="show when profiles run by themselves")
    schedule_actions = schedule.add_subparsers(
        dest="schedule_command", metavar="ACTION", required=True
    )
    list_parser = schedule_actions.add_parser(
        "list", help="each scheduled section in plain words, with its next run"
    )
    list_parser.add_argument("--institution", help="institution code (default: all)")
    list_parser.set_defaults(func=schedule_list)
