"""CSV cells a spreadsheet reads as text: formula prefixes neutralized as OWASP recommends."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import Any

# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets
# (tab and carriage return too: some strip them and read what follows).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_safe_cell(value: Any) -> Any:
    """`value`, with a single quote before a text that starts with a formula prefix.

    Spreadsheets show the quote-prefixed text as it was and never run it; numbers and other
    non-text values are left alone (a negative number is data, not a formula).
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def csv_safe_row(row: Iterable[Any]) -> list[Any]:
    """One CSV row with every cell passed through `csv_safe_cell`."""
    return [csv_safe_cell(value) for value in row]


class _Echo:
    """A file-like object whose `write` returns the line, for streaming csv.writer output."""

    def write(self, value: str) -> str:
        return value


def csv_safe_lines(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """The CSV lines of `header` then `rows` (each made safe), one at a time, for a streamed
    download of any length."""
    writer = csv.writer(_Echo())
    yield writer.writerow(list(header))
    for row in rows:
        yield writer.writerow(csv_safe_row(row))
