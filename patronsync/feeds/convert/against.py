"""``--against INSTITUTION``: check each converted user as a job of that institution would.

Every code is looked up in the institution's code tables (all unknown codes of a user are
reported, not only the first), then the user goes through the store's own rules
(`patron_data_from_json`), so the rows a job would reject are known before the file leaves the
campus. Needs Django and the database; the rest of ``feed convert`` does not.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from patronsync.almaxml.jsonform import user_to_json
from patronsync.almaxml.model import Code, User
from patronsync.core.exceptions import RuleViolation
from patronsync.core.models import Institution
from patronsync.core.selectors import CodeTables, code_tables_for_institution
from patronsync.feeds.convert.build import RowProblem
from patronsync.patrons.fields import CORE_FIELDS, SEGMENT_CODES
from patronsync.patrons.rules import patron_data_from_json

# The model's segment lists, by the store's segment names, and their code fields' attributes.
_SEGMENT_LISTS = {
    "address": ("addresses", {"country": "country", "address_type": "address_types"}),
    "email": ("emails", {"email_type": "email_types"}),
    "phone": ("phones", {"phone_type": "phone_types"}),
    "user_identifier": ("user_identifiers", {"id_type": "id_type"}),
    "user_note": ("user_notes", {"note_type": "note_type"}),
    "user_block": (
        "user_blocks",
        {"block_type": "block_type", "block_description": "block_description"},
    ),
    "user_statistic": ("user_statistics", {"statistic_category": "statistic_category"}),
}


class UnknownInstitution(LookupError):
    """No institution has the code given to ``--against``."""


class CodeChecker:
    """Checks users against one institution's enabled codes and the store's rules.

    `unknown` counts each (code table, code) not in the institution's tables, once per user.
    """

    def __init__(self, *, institution_code: str) -> None:
        institution = Institution.objects.filter(code=institution_code).first()
        if institution is None:
            known = ", ".join(Institution.objects.order_by("code").values_list("code", flat=True))
            raise UnknownInstitution(
                f"no institution {institution_code!r} (institutions: {known or 'none'})"
            )
        self.institution = institution
        self.codes: CodeTables = code_tables_for_institution(institution=institution)
        self.unknown: Counter[tuple[str, str]] = Counter()

    def _code(self, table: str, code: Code | None, key: str, out: list[RowProblem]) -> None:
        if code is None or self.codes.has(table, code.value):
            return
        self.unknown[(table, code.value)] += 1
        out.append(RowProblem(
            "USER_GROUP_NOT_LEGAL" if key == "user.user_group" else "UNKNOWN_CODE", key,
            f"{code.value!r} is not in code table {table} of institution "
            f"{self.institution.code}",
        ))  # fmt: skip

    def __call__(self, user: User) -> list[RowProblem]:
        """The rules `user` breaks for this institution (none: a job would take it)."""
        found: list[RowProblem] = []
        for name, spec in CORE_FIELDS.items():
            if spec.kind == "code" and spec.table:
                self._code(spec.table, getattr(user, name), f"user.{name}", found)
        for segment, tables in SEGMENT_CODES.items():
            attr, fields = _SEGMENT_LISTS[segment]
            for item in getattr(user, attr):
                for field_name, table in tables.items():
                    value: Any = getattr(item, fields[field_name])
                    for code in value if isinstance(value, list) else [value]:
                        self._code(table, code, f"{attr}.{field_name}", found)
        if found:
            return found
        try:
            patron_data_from_json(user_to_json(user), codes=self.codes)
        except RuleViolation as exc:
            return [RowProblem(exc.code, exc.field or "", exc.message)]
        return []
