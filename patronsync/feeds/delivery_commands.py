"""``patronsync feed pack | diff | deliver``: from a converted feed to the S/FTP server.

`feed pack` and `feed diff` run without Django; `feed deliver` reads the S/FTP definition (and
the profile) from the database. Exit codes are documented in docs/feed-tools.md.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from patronsync.almaxml.errors import Problem

SHOWN_PROBLEMS = 50  # problems printed before "... and N more"
DEFAULT_DIFF_LIMIT = 100
EXIT_OK, EXIT_UNEXPECTED, EXIT_USAGE = 0, 1, 2
EXIT_PROBLEMS = 1  # pack, diff: a feed has errors or cannot be read
EXIT_SHRUNK = 3  # diff: NEW has far fewer users than OLD
_SIZE = re.compile(r"\s*(\d+)\s*([KMG]?)B?\s*", re.IGNORECASE)


def byte_size(text: str) -> int:
    """`5000`, `100K`, `20M`, `4G` (powers of 1024) as a number of bytes."""
    match = _SIZE.fullmatch(text)
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size (e.g. 4G, 500M, 20000)")
    factor = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}[match[2].upper()]
    return int(match[1]) * factor


def ratio(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 1")
    return value


def register_tools(commands: Any) -> None:
    """Add ``feed pack``, ``feed diff`` and ``feed deliver`` to the ``feed`` subcommands."""
    from patronsync.feeds.diff import DEFAULT_MIN_RATIO
    from patronsync.feeds.pack import MAX_FILES_PER_ZIP, MAX_ZIP_BYTES, USERS_PER_FILE

    pack = commands.add_parser(
        "pack", help="split users into XML files and zips within Alma's limits, with a manifest"
    )
    pack.add_argument("inputs", nargs="+", metavar="XML", help="XML files or zips of them")
    pack.add_argument("-o", "--output", required=True, metavar="DIR", help="folder of the zips")
    pack.add_argument("--users-per-file", type=int, default=USERS_PER_FILE, metavar="N")
    pack.add_argument(
        "--files-per-zip",
        type=int,
        default=MAX_FILES_PER_ZIP,
        metavar="N",
        help=f"XML files a zip holds at most (Alma: {MAX_FILES_PER_ZIP})",
    )
    pack.add_argument(
        "--max-zip-bytes",
        type=byte_size,
        default=MAX_ZIP_BYTES,
        metavar="SIZE",
        help="what a zip may expand to at most (4G, Alma's limit; 500M, 20000)",
    )
    pack.add_argument("--prefix", default="users", help="names: PREFIX-0001.zip (default users)")
    pack.add_argument("--strict", action="store_true", help="validate users against the XSD")
    pack.add_argument("--keep-invalid", action="store_true",
                      help="pack users with errors too (a job rejects them)")  # fmt: skip
    pack.add_argument("--replace", action="store_true", help="replace an earlier pack in DIR")
    pack.add_argument("-q", "--quiet", action="store_true", help="print nothing unless it fails")
    pack.set_defaults(func=pack_command, needs_django=False)

    diff = commands.add_parser("diff", help="users added, removed and changed between two feeds")
    diff.add_argument("old", metavar="OLD", help="the last feed: XML, zip, or a folder of zips")
    diff.add_argument("new", metavar="NEW", help="tonight's feed: XML, zip, or a folder of zips")
    diff.add_argument("--json", action="store_true", help="JSON Lines, then a summary line")
    diff.add_argument("--limit", type=int, default=None, metavar="N",
                      help=f"users shown at most (default {DEFAULT_DIFF_LIMIT}, all with --json; "
                      "0: all); the counts are always complete")  # fmt: skip
    diff.add_argument("--min-ratio", type=ratio, default=DEFAULT_MIN_RATIO, metavar="R",
                      help="warn and exit 3 when NEW has fewer than R times OLD's users "
                      f"(default {DEFAULT_MIN_RATIO})")  # fmt: skip
    diff.set_defaults(func=diff_command, needs_django=False)

    deliver = commands.add_parser(
        "deliver", help="upload zips to an S/FTP definition's input folder, atomically"
    )
    deliver.add_argument(
        "files", nargs="+", metavar="ZIP", help="zip files, or a feed pack output folder"
    )
    deliver.add_argument("--connection", metavar="NAME", help="the S/FTP definition")
    deliver.add_argument("--institution", metavar="CODE", help="default: the default institution")
    deliver.add_argument("--path", metavar="SUBDIR",
                         help="folder under the definition's sub-directory")  # fmt: skip
    deliver.add_argument("--profile", metavar="CODE",
                         help="deliver where this profile's section reads")  # fmt: skip
    deliver.add_argument("--section", choices=("import", "synchronize"))
    deliver.add_argument("-v", "--verbose", action="store_true", help="print each file delivered")
    deliver.set_defaults(func=deliver_command, needs_django=True)


def _print_problems(problems: Sequence[Problem], out: TextIO) -> None:
    for problem in problems[:SHOWN_PROBLEMS]:
        print(problem, file=out)
    if len(problems) > SHOWN_PROBLEMS:
        print(f"... and {len(problems) - SHOWN_PROBLEMS:,} more problems", file=out)


# feed pack ----------------------------------------------------------------------------------


def pack_command(args: argparse.Namespace) -> int:
    """Pack the inputs; exit 0 when packed, 1 when a feed has errors, 2 on bad options."""
    from patronsync.feeds.pack import PackError, feed_pack

    try:
        result = feed_pack(
            args.inputs,
            output=args.output,
            prefix=args.prefix,
            users_per_file=args.users_per_file,
            max_files_per_zip=args.files_per_zip,
            max_zip_bytes=args.max_zip_bytes,
            strict=args.strict,
            keep_invalid=args.keep_invalid,
            replace=args.replace,
        )
    except PackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    errors = len(result.errors)
    if not result.written:
        _print_problems(result.problems, sys.stderr)
        print(
            f"{errors:,} error(s) in {result.users:,} users: nothing packed"
            + ("" if result.file_errors else " (--keep-invalid packs users with errors)"),
            file=sys.stderr,
        )
        return EXIT_PROBLEMS
    if args.quiet:
        return EXIT_OK
    _print_problems(result.problems, sys.stdout)
    files = sum(len(z.files) for z in result.zips)
    print(
        f"packed {result.users:,} users into {files:,} XML file(s) in {len(result.zips):,} zip(s) "
        f"in {result.output} ({errors:,} error(s), {len(result.problems) - errors:,} warning(s))"
    )
    for packed in result.zips:
        print(f"  {packed.name}: {packed.users:,} users in {len(packed.files)} file(s), "
              f"{packed.bytes:,} bytes, sha256 {packed.sha256}")  # fmt: skip
    print(f"  {result.manifest_path.name}")
    return EXIT_OK


# feed diff ----------------------------------------------------------------------------------


def _feed_files(given: str) -> list[Path]:
    """A feed file, or the `*.zip` files of a folder (a pack's output), by name."""
    path = Path(given)
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and p.name.lower().endswith(".zip"))
    return [path]


def _shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def diff_command(args: argparse.Namespace) -> int:
    """Print the differences; exit 0, 1 when a feed cannot be read whole, 3 when NEW shrank."""
    from patronsync.feeds.diff import CHANGED, DiffSummary, feed_diff

    old, new = _feed_files(args.old), _feed_files(args.new)
    for name, files in (("OLD", old), ("NEW", new)):
        if not files:
            print(f"error: {name}: {getattr(args, name.lower())} holds no zip file",
                  file=sys.stderr)  # fmt: skip
            return EXIT_USAGE
    limit = args.limit if args.limit is not None else (0 if args.json else DEFAULT_DIFF_LIMIT)
    summary = DiffSummary(min_ratio=args.min_ratio)
    shown = 0
    out = sys.stdout
    for change in feed_diff(old, new, summary=summary):
        if limit and shown >= limit:
            continue  # the counts go on to the end
        shown += 1
        if args.json:
            out.write(json.dumps(change.as_dict(), ensure_ascii=False) + "\n")
            continue
        where = change.location
        print(f"{change.kind} {change.primary_id} ({where})", file=out)
        if change.kind == CHANGED:
            for item in change.changes:
                if item.secret:
                    text = "changed (not shown)"
                elif item.old is None:
                    text = f"added {_shown(item.new)}"
                elif item.new is None:
                    text = f"removed {_shown(item.old)}"
                else:
                    text = f"{_shown(item.old)} -> {_shown(item.new)}"
                print(f"    {item.field}: {text}", file=out)
    listed = summary.added + summary.removed + summary.changed
    _print_problems(summary.problems, sys.stderr)
    if args.json:
        out.write(json.dumps({"summary": summary.as_dict()}) + "\n")
    else:
        if listed > shown:
            print(f"... {listed - shown:,} more users not shown (--limit 0 shows all)", file=out)
        print(
            f"OLD {summary.old_users:,} users, NEW {summary.new_users:,} users: "
            f"{summary.added:,} added, {summary.removed:,} removed, {summary.changed:,} changed, "
            f"{summary.unchanged:,} unchanged",
            file=out,
        )
    if summary.file_errors:
        print("error: a feed could not be read to its end: the comparison is incomplete",
              file=sys.stderr)  # fmt: skip
        return EXIT_PROBLEMS
    if summary.shrunk:
        print(
            f"warning: NEW has {summary.new_users:,} users, {summary.ratio:.1%} of OLD's "
            f"{summary.old_users:,}, under --min-ratio {summary.min_ratio}: check the export "
            "before it is delivered (a Synchronize would take the missing users as gone)",
            file=sys.stderr,
        )
        return EXIT_SHRUNK
    return EXIT_OK


# feed deliver -------------------------------------------------------------------------------


def deliver_command(args: argparse.Namespace) -> int:
    """Deliver the zips; silent unless it fails (or --verbose). Exit codes: see the docs."""
    from patronsync.core.exceptions import PatronsyncError
    from patronsync.core.models import Institution
    from patronsync.core.services import institution_get_or_create_default
    from patronsync.feeds.deliver import DeliveryError, delivery_target, feed_deliver

    try:
        if args.institution:
            institution = Institution.objects.filter(code=args.institution).first()
            if institution is None:
                print(f"error: --institution: no institution with code {args.institution!r}",
                      file=sys.stderr)  # fmt: skip
                return EXIT_USAGE
        else:
            institution = institution_get_or_create_default()
        target = delivery_target(
            institution=institution,
            connection_name=args.connection,
            profile_code=args.profile,
            section=args.section,
            path=args.path,
        )

        def said(remote: Any) -> None:
            if args.verbose:
                print(f"delivered {remote.name} ({remote.size:,} bytes) to {target}")

        feed_deliver(target=target, paths=args.files, on_delivered=said)
    except DeliveryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except PatronsyncError as exc:  # configuration: an unknown name, a server not allowed
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK
