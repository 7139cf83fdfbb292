"""The code-table writes the pages ask for: adding a code a job's feed used (or enabling its
disabled row), and saving a row's edit."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from patronsync.core.models import CodeTableEntry
from patronsync.core.services import (
    code_table_entry_add,
    code_table_entry_add_or_enable,
    code_table_entry_update,
)

pytestmark = pytest.mark.django_db

TABLE = "UserGroups"


def row(institution, code):
    return CodeTableEntry.objects.get(institution=institution, table=TABLE, code=code)


def test_a_missing_code_is_added_enabled_and_last(institution):
    last = CodeTableEntry.objects.filter(institution=institution, table=TABLE).count()

    outcome = code_table_entry_add_or_enable(
        institution=institution, table=TABLE, code="VISITOR", description=" Visitor ", actor="ann"
    )

    assert outcome == "added"
    entry = row(institution, "VISITOR")
    assert (entry.enabled, entry.description) == (True, "Visitor")
    assert entry.position >= last


def test_a_disabled_row_is_enabled_keeping_the_description_staff_wrote(institution):
    code_table_entry_add(institution=institution, table=TABLE, code="ALUM",
                         description="Alumni", enabled=False)  # fmt: skip
    code_table_entry_add(institution=institution, table=TABLE, code="BARE", enabled=False)

    kept = code_table_entry_add_or_enable(
        institution=institution, table=TABLE, code="ALUM", description="Other", actor="ann"
    )
    given = code_table_entry_add_or_enable(
        institution=institution, table=TABLE, code="BARE", description="Bare one", actor="ann"
    )

    assert (kept, given) == ("enabled", "enabled")
    assert (row(institution, "ALUM").enabled, row(institution, "ALUM").description) == (
        True, "Alumni",
    )  # fmt: skip
    assert row(institution, "BARE").description == "Bare one"


def test_an_enabled_row_is_left_as_it_is(institution):
    code_table_entry_add(institution=institution, table=TABLE, code="ALUM", description="Alumni")

    outcome = code_table_entry_add_or_enable(
        institution=institution, table=TABLE, code="ALUM", description="Other", actor="ann"
    )

    assert outcome == "was already in the table"
    assert row(institution, "ALUM").description == "Alumni"


def test_a_code_the_table_refuses_is_a_validation_error_naming_the_field(institution):
    with pytest.raises(ValidationError) as caught:
        code_table_entry_add_or_enable(
            institution=institution, table=TABLE, code="X" * 300, description="", actor="ann"
        )
    assert "code" in caught.value.message_dict


def test_an_update_sets_the_values_and_says_whether_anything_changed(institution):
    entry = code_table_entry_add(institution=institution, table=TABLE, code="ALUM")
    values = {"description": " Alumni ", "default": True, "enabled": False, "position": 7}

    assert code_table_entry_update(entry=entry, values=values, actor="ann") is True
    assert code_table_entry_update(entry=entry, values=values, actor="ann") is False

    stored = row(institution, "ALUM")
    assert (stored.description, stored.is_default, stored.enabled, stored.position) == (
        "Alumni", True, False, 7,
    )  # fmt: skip
    assert (
        not CodeTableEntry.objects.filter(institution=institution, table=TABLE, is_default=True)
        .exclude(pk=entry.pk)
        .exists()
    )  # the table's other default was unmarked


def test_a_refused_update_leaves_the_row_as_stored(institution):
    entry = code_table_entry_add(institution=institution, table=TABLE, code="ALUM",
                                 description="Alumni")  # fmt: skip

    with pytest.raises(ValidationError) as caught:
        code_table_entry_update(
            entry=entry, values={"description": "D" * 2000, "position": 3}, actor="ann"
        )

    assert "description" in caught.value.message_dict
    assert (entry.description, entry.position) == ("Alumni", row(institution, "ALUM").position)
    assert row(institution, "ALUM").description == "Alumni"
