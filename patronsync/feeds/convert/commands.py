"""``patronsync feed convert``: an SIS export (CSV, JSON) to Alma User XML, with a mapping file.

Exit codes: 0 every row converted; 1 bad rows (reported, left out of the output; with
``--strict`` the first stops the run and nothing is written); 2 the mapping file or the command
line is wrong; 3 an input cannot be read or does not fit the mapping.
"""

from __future__ import annotations

import argparse
import os
from datetime import date
from typing import Any

from rich.console import Console
from rich.markup import escape

EXIT_OK = 0
EXIT_BAD_ROWS = 1
EXIT_MAPPING = 2
EXIT_INPUT = 3


def convert_register(commands: Any) -> None:
    """Add ``feed convert`` to the ``feed`` command's subcommands."""
    convert = commands.add_parser(
        "convert",
        help="convert an SIS export (CSV, JSON, JSON Lines) to Alma user XML with a mapping",
        description="Convert an SIS export to Alma User XML as a mapping file says "
        "(docs/mapping-format.md). Exit codes: 0 ok, 1 bad rows, 2 mapping or usage error, "
        "3 input error.",
    )
    convert.add_argument("inputs", nargs="+", metavar="INPUT",
                         help="the main export, then one file per join of the mapping")  # fmt: skip
    convert.add_argument("-m", "--mapping", required=True, metavar="MAPPING",
                         help="the mapping file (.yaml, .yml or .toml)")  # fmt: skip
    convert.add_argument("-o", "--output", required=True, metavar="OUT.xml")
    convert.add_argument(
        "--delimiter", metavar="CHAR", help="the main CSV's delimiter (default: sniffed; \\t: tab)"
    )
    convert.add_argument(
        "--encoding",
        metavar="NAME",
        help="the main input's encoding (default: BOM, else UTF-8, else cp1252)",
    )
    convert.add_argument("--strict", action="store_true", help="stop at the first bad row")
    convert.add_argument("--against", metavar="INSTITUTION",
                         help="check every code against this institution's code tables "
                         "(reads patronsync's database)")  # fmt: skip
    convert.add_argument("--today", type=date.fromisoformat, metavar="YYYY-MM-DD",
                         help="the day derived dates count from (default: today)")  # fmt: skip
    convert.add_argument(
        "--max-problems",
        type=int,
        default=100,
        metavar="N",
        help="print at most N bad-row lines (all are counted; default 100)",
    )
    convert.add_argument("-q", "--quiet", action="store_true",
                         help="print only problems and warnings, not the summary")  # fmt: skip
    convert.set_defaults(func=convert_command, needs_django=False)


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    import django

    django.setup()


def convert_command(args: argparse.Namespace) -> int:
    """Run the conversion, print bad rows and the summary; the exit code says how it went."""
    from patronsync.feeds.convert.inputs import InputError
    from patronsync.feeds.convert.mapping import MappingError, mapping_load
    from patronsync.feeds.convert.run import BadRow, ConvertError, feed_convert

    out = Console(highlight=False, soft_wrap=True)
    err = Console(highlight=False, soft_wrap=True, stderr=True)
    delimiter = args.delimiter
    if delimiter in ("\\t", "tab", "TAB"):
        delimiter = "\t"
    if delimiter is not None and len(delimiter) != 1:
        err.print(f"--delimiter: expected one character, got {escape(repr(delimiter))}")
        return EXIT_MAPPING
    if args.encoding:
        import codecs

        try:
            codecs.lookup(args.encoding)
        except LookupError:
            err.print(f"--encoding: unknown encoding {escape(repr(args.encoding))}")
            return EXIT_MAPPING
    try:
        mapping = mapping_load(args.mapping)
    except MappingError as exc:
        err.print(f"[red]{escape(str(exc))}[/red]")
        return EXIT_MAPPING
    checker = None
    if args.against:
        _setup_django()
        from patronsync.feeds.convert.against import CodeChecker, UnknownInstitution

        try:
            checker = CodeChecker(institution_code=args.against)
        except UnknownInstitution as exc:
            err.print(f"--against: {escape(str(exc))}")
            return EXIT_MAPPING
    shown = 0
    hidden = 0

    def on_bad_row(bad: BadRow) -> None:
        nonlocal shown, hidden
        if shown < args.max_problems:
            out.print(f"[red]{escape(str(bad))}[/red]")
            shown += 1
        else:
            hidden += 1

    try:
        summary = feed_convert(
            mapping=mapping,
            inputs=args.inputs,
            output=args.output,
            strict=args.strict,
            encoding=args.encoding,
            delimiter=delimiter,
            today=args.today,
            checker=checker,
            on_bad_row=on_bad_row,
        )
    except ConvertError as exc:
        err.print(f"[red]{escape(str(exc))}[/red]")
        return EXIT_MAPPING if exc.in_mapping else EXIT_INPUT
    except (InputError, OSError) as exc:
        err.print(f"[red]{escape(str(exc))}[/red]")
        return EXIT_INPUT
    if hidden:
        out.print(f"[red]... and {hidden:,} more problems (--max-problems)[/red]")
    for warning in summary.warnings:
        out.print(f"[yellow]warning: {escape(warning)}[/yellow]")
    if summary.unmapped and (not args.quiet or not summary.ok):
        out.print("Values not in a value map (each once, with the rows that used it):")
        for (map_name, value), count in sorted(summary.unmapped.items()):
            action = mapping.maps[map_name].unmapped
            what = {
                "reject": "rows rejected",
                "default": f"given the default {mapping.maps[map_name].default!r}",
                "keep": "kept as they are",
            }[action]
            out.print(f"  {escape(map_name)}: {escape(repr(value))}: {count:,} row"
                      f"{'s' if count != 1 else ''} ({escape(what)})")  # fmt: skip
        for map_name, count in sorted(summary.unmapped_others.items()):
            out.print(f"  {escape(map_name)}: {count:,} more rows with other values (not listed)")
    if checker is not None and checker.unknown:
        out.print(f"Codes not in the code tables of institution {escape(args.against)}:")
        for (table, code), count in sorted(checker.unknown.items()):
            out.print(f"  {escape(table)}: {escape(repr(code))}: {count:,} row"
                      f"{'s' if count != 1 else ''}")  # fmt: skip
    if not args.quiet:
        if summary.stopped:
            out.print(f"[red]stopped at the first bad row (--strict) after {summary.rows:,} "
                      f"rows; nothing written[/red]")  # fmt: skip
        else:
            verdict = (
                "[green]ok[/green]" if summary.ok else f"[red]{summary.bad_rows:,} bad rows[/red]"
            )
            out.print(f"{summary.rows:,} rows read, {summary.users:,} users written to "
                      f"{escape(summary.output)}, {verdict}")  # fmt: skip
        if summary.rules:
            rules = ", ".join(f"{rule} {n:,}" for rule, n in sorted(summary.rules.items()))
            out.print(f"rules broken: {rules}")
    return EXIT_OK if summary.ok else EXIT_BAD_ROWS
