"""``patronsync feed ...``: validate feed files and write sample feeds, without Django."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape


def register(subparsers: Any) -> None:
    """Add ``feed validate`` and ``feed sample`` to the ``patronsync`` command."""
    feed = subparsers.add_parser("feed", help="check and produce Alma user XML feed files")
    commands = feed.add_subparsers(dest="feed_command", metavar="COMMAND", required=True)

    validate = commands.add_parser("validate", help="report users per file and every problem")
    validate.add_argument("files", nargs="+", metavar="FILE", help="XML or zip feed files")
    validate.add_argument("--strict", action="store_true", help="validate against the XSD")
    validate.set_defaults(func=validate_command, needs_django=False)

    sample = commands.add_parser("sample", help="write a zip of realistic sample users")
    sample.add_argument("--users", type=int, required=True, metavar="N")
    sample.add_argument("-o", "--output", required=True, metavar="FILE.zip")
    sample.add_argument("--seed", type=int, default=1)
    sample.add_argument("--base-seed", type=int, default=None, help="day-1 seed for a day-2 feed")
    sample.add_argument("--changed-fraction", type=float, default=0.0, metavar="F")
    sample.add_argument("--added-fraction", type=float, default=0.0, metavar="F")
    sample.add_argument("--users-per-file", type=int, default=50_000, metavar="N")
    sample.set_defaults(func=sample_command, needs_django=False)

    from patronsync.feeds.delivery_commands import register_tools

    register_tools(commands)  # pack, diff, deliver

    from patronsync.feeds.convert.commands import convert_register

    convert_register(commands)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``feed ...`` on its own (``python -m patronsync.feeds.commands feed validate X``)."""
    parser = argparse.ArgumentParser(prog="patronsync")
    register(parser.add_subparsers(dest="command", metavar="COMMAND", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


def validate_command(args: argparse.Namespace) -> int:
    """Print each file's user counts and problems; exit 1 when any problem is an error."""
    from patronsync.feeds.validate import feed_validate

    console = Console(highlight=False, soft_wrap=True)
    result = feed_validate(args.files, strict=args.strict)
    for report in result.files:
        verdict = "[red]errors[/red]" if report.errors else "[green]ok[/green]"
        console.print(f"[bold]{escape(report.path)}[/bold]: {report.users} users, {verdict}")
        for part in report.parts:
            if part.entry:
                suffix = "" if part.complete else " [red](not read to the end)[/red]"
                console.print(f"  {escape(part.entry)}: {part.users} users{suffix}")
        for problem in report.problems:
            colour = "red" if problem.is_error else "yellow"
            console.print(f"  [{colour}]{escape(str(problem))}[/{colour}]")
    errors = sum(r.errors for r in result.files)
    warnings = sum(len(r.problems) for r in result.files) - errors
    console.print(f"{errors} errors, {warnings} warnings")
    return 0 if result.ok else 1


def sample_command(args: argparse.Namespace) -> int:
    """Write a sample feed zip (a day-2 variant with --base-seed and the fractions)."""
    from patronsync.feeds.sample import write_sample_feed

    total = write_sample_feed(
        args.output,
        args.users,
        seed=args.seed,
        base_seed=args.base_seed,
        users_per_file=args.users_per_file,
        changed_fraction=args.changed_fraction,
        added_fraction=args.added_fraction,
    )
    Console(highlight=False).print(f"wrote {total} users to {escape(args.output)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
