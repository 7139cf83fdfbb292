"""Reads on code tables, shaped for validation in bulk."""

from __future__ import annotations

from dataclasses import dataclass, field

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
