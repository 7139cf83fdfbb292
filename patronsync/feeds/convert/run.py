"""The streaming conversion: inputs in, one Alma User XML file out, every bad row reported.

Each row is read, joined, built, validated against rest_users.xsd (user by user) and written
before the next is read, so memory stays flat at any size. The output is written under a
temporary name beside `output` and renamed at the end: a stopped or failed run never leaves a
half-written feed for a cron job to deliver.
"""

from __future__ import annotations

import os
import re
import sqlite3
import tempfile
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from lxml import etree

from patronsync.almaxml.model import User
from patronsync.almaxml.validation import users_schema
from patronsync.almaxml.writer import user_element
from patronsync.core.text import REASON_CHARS, bounded
from patronsync.feeds.convert.build import Builder, Related, RowProblem, Unmapped
from patronsync.feeds.convert.inputs import InputError, JoinIndex, Source, open_input
from patronsync.feeds.convert.mapping import Mapping

# Checks a built user against an institution's code tables (``--against``).
Checker = Callable[[User], list[RowProblem]]


class ConvertError(ValueError):
    """The conversion cannot start: an input or the mapping does not fit (not a row's fault).

    `in_mapping`: the fault is the mapping's (or the command line's), not an input file's.
    """

    def __init__(self, message: str, *, in_mapping: bool = False) -> None:
        super().__init__(message)
        self.in_mapping = in_mapping


@dataclass(slots=True)
class BadRow:
    """A row that was not converted: where it is, and the rule it breaks."""

    path: str
    line: int
    rule: str
    message: str
    key: str = ""
    columns: str = ""

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}: "
        cols = f"{self.columns}: " if self.columns else ""
        key = f"{self.key}: " if self.key else ""
        return f"{where}{cols}{key}{self.message} [{self.rule}]"


@dataclass(slots=True)
class Summary:
    """What a conversion did: counts, rules broken, values not in a value map, warnings.

    `unmapped_others`: rows per map whose value is past the distinct values kept by name."""

    output: str
    rows: int = 0
    users: int = 0
    bad_rows: int = 0
    rules: Counter[str] = field(default_factory=Counter)
    unmapped: Counter[tuple[str, str]] = field(default_factory=Counter)
    unmapped_others: Counter[str] = field(default_factory=Counter)
    unknown_codes: Counter[tuple[str, str]] = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)
    stopped: bool = False
    written: bool = False

    @property
    def ok(self) -> bool:
        """True when every row was converted."""
        return self.bad_rows == 0 and not self.stopped


def _column_label(source: Source, names: Sequence[str]) -> str:
    """``program (column 5)`` for CSV, the key (``name.first``) for JSON."""
    labels = []
    for name in names:
        if source.columns is not None and name in source.columns:
            labels.append(f"{name} (column {source.columns.index(name) + 1})")
        else:
            labels.append(name)
    return ", ".join(labels)


_SECRET_ELEMENTS = re.compile(r"^Element '(?:pin_number|password)'")
_QUOTED_VALUE = re.compile(r"The value '.*?' (?=has|is)", re.DOTALL)


def _schema_messages(elem: Any) -> list[str]:
    """The XSD's complaints about one ``<user>``, or none; a PIN's or password's value is
    never quoted, and any other value is cut to a readable size."""
    schema = users_schema()
    if schema.validate(elem):
        return []
    errors: Any = schema.error_log
    return [redacted(str(error.message)) for error in errors]


def redacted(message: str) -> str:
    """An XSD message as printed: a PIN's or password's quoted value left out, cut to size."""
    if _SECRET_ELEMENTS.match(message):
        message = _QUOTED_VALUE.sub("The value (not shown) ", message)
    return bounded(message, REASON_CHARS)


def _id_key(value: str) -> str:
    text = value.strip()
    if text.isascii():
        return text.lower()
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).casefold())


def feed_convert(
    *,
    mapping: Mapping,
    inputs: Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    strict: bool = False,
    encoding: str | None = None,
    delimiter: str | None = None,
    today: date | None = None,
    checker: Checker | None = None,
    on_bad_row: Callable[[BadRow], None] | None = None,
) -> Summary:
    """Convert `inputs` (the main file, then one per join) with `mapping` into `output`.

    `encoding` and `delimiter` override the mapping's for the main file (a join is read as its
    own keys say, or as detected).
    Every bad row goes to `on_bad_row` and is left out of the output; with `strict` the first
    one stops the run and no output is written. Raises ConvertError (or InputError) when the
    conversion cannot start.
    """
    if not inputs:
        raise ConvertError("give at least one input file")
    extra = len(inputs) - 1 - len(mapping.joins)
    if extra > 0:
        raise ConvertError(
            f"{len(inputs)} input files given, but the mapping joins {len(mapping.joins)} "
            f"file(s): give the main file, then one file per join",
            in_mapping=True,
        )
    summary = Summary(output=os.fspath(output))
    main = open_input(inputs[0], mapping.input, encoding=encoding, delimiter=delimiter)
    summary.warnings.extend(main.warnings)
    _check_columns(mapping, main)
    indexes: dict[str, JoinIndex] = {}
    out_dir = os.path.dirname(os.path.abspath(os.fspath(output)))
    report = on_bad_row or (lambda bad: None)
    try:
        for number, join in enumerate(mapping.joins, start=1):
            path = inputs[number] if number < len(inputs) else join.file
            if path is None:
                raise ConvertError(
                    f"{mapping.path}: join {join.name!r} has no file: give it on the command "
                    "line after the main file, or as the join's 'file'",
                    in_mapping=True,
                )
            # --encoding and --delimiter are the main file's; a join has its own keys.
            source = open_input(path, join.input)
            summary.warnings.extend(source.warnings)
            index = JoinIndex(source, join.key, directory=None)
            indexes[join.name] = index
            for line, problem in index.problems:
                bad = BadRow(source.path, line, "MALFORMED_ROW", problem)
                summary.bad_rows += 1
                summary.rules[bad.rule] += 1
                report(bad)
                if strict:
                    summary.stopped = True
                    return summary
        _convert_rows(mapping, main, indexes, output, out_dir, summary, strict, today, checker,
                      report)  # fmt: skip
    finally:
        for index in indexes.values():
            index.close()
    return summary


def _check_columns(mapping: Mapping, main: Source) -> None:
    """Every column the mapping reads, and every join's `on`, is in a CSV's header."""
    if main.columns is None:
        return
    wanted = mapping.columns() | {j.on for j in mapping.joins}
    missing = sorted(wanted - set(main.columns))
    if missing:
        raise ConvertError(
            f"{main.path}: the mapping {mapping.path} reads column(s) "
            f"{', '.join(repr(c) for c in missing)}, which the header does not have "
            f"(columns: {', '.join(main.columns)})"
        )
    joins = {j.name for j in mapping.joins}
    for entries in mapping.segments.values():
        for entry in entries:
            if entry.for_each and entry.for_each not in joins:
                raise ConvertError(
                    f"{mapping.path}: {entry.key}.for_each: {entry.for_each!r} is not a join "
                    "(a CSV row holds no lists; join a second file)",
                    in_mapping=True,
                )


def _convert_rows(
    mapping: Mapping, main: Source, indexes: dict[str, JoinIndex], output: str | os.PathLike[str],
    out_dir: str, summary: Summary, strict: bool, today: date | None, checker: Checker | None,
    report: Callable[[BadRow], None],
) -> None:  # fmt: skip
    unmapped = Unmapped()
    builder = Builder(mapping, today=today or date.today(), unmapped=unmapped)
    handle, partial = tempfile.mkstemp(
        prefix=f".{os.path.basename(os.fspath(output))}.", suffix=".partial", dir=out_dir
    )
    os.close(handle)
    seen_dir = tempfile.mkdtemp(prefix="patronsync-convert-")
    seen = sqlite3.connect(os.path.join(seen_dir, "ids.sqlite3"))
    seen.execute("PRAGMA journal_mode=OFF")
    seen.execute("PRAGMA synchronous=OFF")
    seen.execute("CREATE TABLE ids (key TEXT PRIMARY KEY, line INT) WITHOUT ROWID")
    joins = mapping.joins
    done = False

    def bad(line: int, problem: RowProblem) -> None:
        path, at = problem.source or (main.path, line)
        summary.rules[problem.rule] += 1
        report(BadRow(path, at, problem.rule, problem.message, problem.key,
                      _column_label(main, problem.columns) if problem.source is None else
                      ", ".join(problem.columns)))  # fmt: skip

    try:
        with etree.xmlfile(partial, encoding="UTF-8") as xf:
            xf.write_declaration()
            with xf.element("users"):
                xf.write("\n")
                for row in main.rows:
                    summary.rows += 1
                    problems: list[RowProblem] = []
                    user = None
                    if row.problem:
                        problems.append(RowProblem("MALFORMED_ROW", "", row.problem))
                    else:
                        related: dict[str, Related] = {}
                        for join in joins:
                            index = indexes[join.name]
                            found = index.lookup(row.values.get(join.on))
                            related[join.name] = Related(index.source.path, found)
                            if join.required and not found:
                                problems.append(RowProblem(
                                    "JOIN_MISSING", f"joins.{join.name}",
                                    f"no row in {index.source.path} has {join.key} = "
                                    f"{row.values.get(join.on)!r}", [join.on],
                                ))  # fmt: skip
                        if not problems:
                            user, problems = builder.build(row.values, related)
                    elem = None
                    if user is not None:
                        elem = user_element(user)
                        for message in _schema_messages(elem)[:3]:
                            problems.append(RowProblem("SCHEMA_INVALID", "", message))
                        if not problems and checker is not None:
                            problems.extend(checker(user))
                        if not problems and user.primary_id:
                            key = _id_key(user.primary_id)
                            cursor = seen.execute(
                                "INSERT OR IGNORE INTO ids VALUES (?, ?)", (key, row.line)
                            )
                            if cursor.rowcount == 0:
                                (first,) = seen.execute(
                                    "SELECT line FROM ids WHERE key = ?", (key,)
                                ).fetchone()
                                problems.append(RowProblem(
                                    "DUPLICATE_PRIMARY_ID", "user.primary_id",
                                    f"primary ID {user.primary_id!r} is already on line {first}",
                                ))  # fmt: skip
                    if problems:
                        summary.bad_rows += 1
                        for problem in problems:
                            bad(row.line, problem)
                        if strict:
                            summary.stopped = True
                            break
                        continue
                    xf.write(elem, pretty_print=True)
                    summary.users += 1
        summary.unmapped, summary.unmapped_others = unmapped.counts, unmapped.others
        if not summary.stopped:
            os.replace(partial, output)
            summary.written = True
            done = True
    except InputError:
        summary.unmapped, summary.unmapped_others = unmapped.counts, unmapped.others
        raise
    finally:
        seen.close()
        for name in os.listdir(seen_dir):
            os.unlink(os.path.join(seen_dir, name))
        os.rmdir(seen_dir)
        if not done and os.path.exists(partial):
            os.unlink(partial)
