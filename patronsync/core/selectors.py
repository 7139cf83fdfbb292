"""Reads on code tables, shaped for validation in bulk."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, Q

from .choices import CodeTableName
from .models import CodeTableEntry, Institution


@dataclass(frozen=True)
class CodeTables:
    """A snapshot of an institution's enabled codes, for checking thousands of records quickly."""

    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)

    def has(self, table: str, code: str) -> bool:
        return code in self.codes.get(table, {})

    def description(self, table: str, code: str | None) -> str | None:
        if code is None:
            return None
        return self.codes.get(table, {}).get(code)

    def default(self, table: str) -> str | None:
        return self.defaults.get(table)


def code_tables_for_institution(*, institution: Institution) -> CodeTables:
    """Load every enabled code of `institution` in one query."""
    codes: dict[str, dict[str, str]] = {}
    defaults: dict[str, str] = {}
    rows = CodeTableEntry.objects.filter(institution=institution, enabled=True).values_list(
        "table", "code", "description", "is_default"
    )
    for table, code, description, is_default in rows:
        codes.setdefault(table, {})[code] = description
        if is_default:
            defaults[table] = code
    return CodeTables(codes=codes, defaults=defaults)


def code_table_codes(*, institution: Institution, table: str) -> list[str]:
    """The enabled codes of one of `institution`'s code tables, in the table's order."""
    return list(
        CodeTableEntry.objects.filter(institution=institution, table=table, enabled=True)
        .order_by("position", "code")
        .values_list("code", flat=True)
    )


@dataclass(frozen=True)
class CodeTableSummary:
    """One code table of an institution, by Alma's name, with its rows counted."""

    table: str
    label: str
    rows: int
    enabled: int
    default: str | None


def code_table_summaries(*, institution: Institution) -> list[CodeTableSummary]:
    """Every code table patronsync knows, in CodeTableName's order, each with how many rows
    it has, how many are enabled, and its default code (a table without rows is listed too)."""
    counts: dict[str, tuple[int, int]] = {
        table: (rows, enabled)
        for table, rows, enabled in CodeTableEntry.objects.filter(institution=institution)
        .values("table")
        .annotate(rows=Count("id"), enabled=Count("id", filter=Q(enabled=True)))
        .values_list("table", "rows", "enabled")
    }
    defaults = dict(
        CodeTableEntry.objects.filter(institution=institution, is_default=True).values_list(
            "table", "code"
        )
    )
    return [
        CodeTableSummary(
            table=str(table.value),
            label=str(table.label),
            rows=counts.get(table.value, (0, 0))[0],
            enabled=counts.get(table.value, (0, 0))[1],
            default=defaults.get(table.value),
        )
        for table in CodeTableName
    ]
