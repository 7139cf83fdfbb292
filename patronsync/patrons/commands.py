"""`patronsync history export` and `patronsync history prune`: the users' audit trail."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def history_export_command(args: argparse.Namespace) -> int:
    from patronsync.commands import institution_option
    from patronsync.core.models import Institution
    from patronsync.patrons.audit import (
        HistoryFilterError,
        history_export,
        history_filter,
        history_time_bound,
        institution_zone,
    )

    institution = institution_option(args.institution)
    zone = institution_zone(institution)
    try:
        since = history_time_bound(args.since, tz=zone, end=False, name="--since")
        until = history_time_bound(args.until, tz=zone, end=True, name="--until")
    except HistoryFilterError as exc:
        print(f"patronsync history export: {exc}", file=sys.stderr)
        return 2
    if since is not None and until is not None and until <= since:
        print("patronsync history export: --until is before --since", file=sys.stderr)
        return 2
    changes = history_filter(
        institutions=Institution.objects.filter(pk=institution.pk),
        primary_id=args.user or "",
        since=since,
        until=until,
        job_id=args.job,
    )
    if args.output and args.output != "-":
        with open(args.output, "w", encoding="utf-8", newline="") as out:
            count = history_export(changes=changes, fmt=args.format, out=out)
        noun = "change" if count == 1 else "changes"
        print(f"{count:,} {noun} written to {args.output}", file=sys.stderr)
    else:
        history_export(changes=changes, fmt=args.format, out=sys.stdout)
    return 0


def history_prune_command(args: argparse.Namespace) -> int:
    from patronsync.patrons.audit import HistoryFilterError, history_prune, history_retention_days

    days = args.days if args.days is not None else history_retention_days()
    institution = None
    if args.institution:
        from patronsync.commands import institution_option

        institution = institution_option(args.institution)
    if days == 0:
        print(
            "The history is kept forever (PATRONSYNC_HISTORY_RETENTION_DAYS is 0): nothing "
            "removed. Give --days N, or set the retention."
        )
        return 0
    try:
        removed = history_prune(days=days, institution=institution)
    except HistoryFilterError as exc:
        print(f"patronsync history prune: {exc}", file=sys.stderr)
        return 2
    where = f" of institution {institution.code}" if institution is not None else ""
    noun = "change" if removed == 1 else "changes"
    print(f"{removed:,} {noun}{where} older than {days} days removed from the users' history")
    return 0


def _days(text: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days (0 or more)")
    return int(text)


def _job_id(text: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a job ID")
    return int(text)


def register(subparsers: Any) -> None:
    history = subparsers.add_parser(
        "history",
        help="the users' history (audit trail): export it, remove what is past its retention",
        description="Every change to a user, with each field before and after and who made it "
        "(a job with its file, entry and line, a staff account, an API key).",
    )
    actions = history.add_subparsers(dest="history_command", metavar="ACTION", required=True)
    export = actions.add_parser(
        "export",
        help="write the history as CSV or JSON Lines, oldest first",
        description="CSV: one row per changed field (cells a spreadsheet reads as text). JSON "
        "Lines: one object per change, with all its fields. Dates are whole days in the "
        "institution's time zone; --until's day is included.",
    )
    export.add_argument("--user", metavar="PRIMARY_ID", help="one user's changes")
    export.add_argument("--since", metavar="DATE", help="from this day or time (YYYY-MM-DD)")
    export.add_argument("--until", metavar="DATE", help="to this day or time, included")
    export.add_argument("--job", type=_job_id, metavar="JOB_ID", help="one job's changes")
    export.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    export.add_argument("-o", "--output", metavar="FILE", help="write to FILE (default: stdout)")
    export.add_argument("--institution", help="institution code (default: the default one)")
    export.set_defaults(func=history_export_command)
    prune = actions.add_parser(
        "prune",
        help="remove changes older than the retention (PATRONSYNC_HISTORY_RETENTION_DAYS)",
    )
    prune.add_argument(
        "--days", type=_days, help="keep this many days instead of the retention setting"
    )
    prune.add_argument("--institution", help="one institution's history (default: all)")
    prune.set_defaults(func=history_prune_command)
