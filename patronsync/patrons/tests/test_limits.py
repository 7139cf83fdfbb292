"""What the user store accepts, every database stores: limits checked before any write."""

from __future__ import annotations

import importlib
import unicodedata

import pytest
from django.apps import apps
from django.db import models

from patronsync.core.exceptions import RuleViolation
from patronsync.patrons.fields import CORE_FIELDS
from patronsync.patrons.limits import MAX_LENGTH, checked_identifier, identifier_key
from patronsync.patrons.models import Patron, PatronIdentifier
from patronsync.patrons.services import patron_create
from patronsync.patrons.tests.factories import user_json

# Greek alpha and sigma: capitals, small with the final sigma, small with the medial sigma.
CAPITALS, FINAL, MEDIAL = "\u0391\u03a3", "\u03b1\u03c2", "\u03b1\u03c3"
BIDI_AND_INVISIBLE = [
    ("\u202eevil", "RIGHT-TO-LEFT OVERRIDE"),
    ("ab\u200fc", "RIGHT-TO-LEFT MARK"),
    ("ab\u2066c\u2069", "LEFT-TO-RIGHT ISOLATE"),
    ("ab\u200bc", "ZERO WIDTH SPACE"),
    ("ab\u200dc", "ZERO WIDTH JOINER"),
    ("\ufeffabc", "ZERO WIDTH NO-BREAK SPACE"),
    ("ab\tc", "U+0009"),
    ("ab\x85c", "U+0085"),
]


def test_case_folding_makes_final_and_medial_sigma_one_value() -> None:
    assert identifier_key(CAPITALS) == identifier_key(FINAL) == identifier_key(MEDIAL) == MEDIAL
    assert identifier_key("STRASSE") == identifier_key("straße")


def test_dotted_capital_i_is_not_a_plain_i() -> None:
    # Full case folding: İ is i with a combining dot above, on every database alike.
    assert identifier_key("İ1") == "i\u03071"
    assert identifier_key("İ1") != identifier_key("i1")


def test_composed_and_decomposed_forms_are_one_value() -> None:
    composed, decomposed = "José", unicodedata.normalize("NFD", "José")
    assert composed != decomposed
    assert identifier_key(composed) == identifier_key(decomposed)
    assert checked_identifier(decomposed, field_name="primary_id") == composed


@pytest.mark.parametrize(("value", "named"), BIDI_AND_INVISIBLE)
def test_invisible_and_control_characters_are_refused_naming_field_and_character(
    value: str, named: str
) -> None:
    with pytest.raises(RuleViolation) as caught:
        checked_identifier(value, field_name="user_identifier[0].value")
    assert caught.value.code == "INVALID_CHARACTER"
    assert caught.value.message.startswith("Field user_identifier[0].value contains an invisible")
    assert named in caught.value.message


def test_an_identifier_that_folds_past_the_limit_is_refused() -> None:
    assert len("ß" * 200) <= MAX_LENGTH
    with pytest.raises(RuleViolation) as caught:
        checked_identifier("ß" * 200, field_name="primary_id")
    assert caught.value.code == "VALUE_TOO_LONG"
    assert "once case-folded" in caught.value.message


def test_every_core_text_field_has_the_models_length() -> None:
    for name, spec in CORE_FIELDS.items():
        if spec.kind != "str":
            continue
        column = Patron._meta.get_field(name)
        assert isinstance(column, models.CharField)
        assert spec.max_length == column.max_length, name
    for name in ("value", "value_key", "status", "id_type"):
        assert PatronIdentifier._meta.get_field(name).max_length == MAX_LENGTH


# The store on the database: these run on SQLite and on PostgreSQL alike -----------------------


def _refusal(institution, system_actor, **overrides) -> RuleViolation:
    with pytest.raises(RuleViolation) as caught:
        patron_create(institution=institution, data=user_json(**overrides), actor=system_actor)
    return caught.value


@pytest.mark.django_db
def test_an_identifier_over_255_characters_is_refused_before_any_write(
    institution, system_actor
) -> None:
    problem = _refusal(
        institution,
        system_actor,
        primary_id="long1",
        user_identifier=[{"id_type": {"value": "BARCODE"}, "value": "B" * 300}],
    )
    assert (problem.code, problem.field) == ("VALUE_TOO_LONG", "user_identifier[0].value")
    assert problem.message == "Field user_identifier[0].value is longer than 255 characters"
    assert not Patron.objects.exists()


@pytest.mark.django_db
def test_an_identifier_status_over_255_characters_is_refused(institution, system_actor) -> None:
    problem = _refusal(
        institution,
        system_actor,
        user_identifier=[{"id_type": {"value": "BARCODE"}, "value": "B1", "status": "s" * 256}],
    )
    assert (problem.code, problem.field) == ("VALUE_TOO_LONG", "user_identifier[0].status")


@pytest.mark.django_db
def test_primary_ids_that_fold_together_are_one_user(institution, system_actor) -> None:
    patron_create(institution=institution, data=user_json(primary_id=CAPITALS), actor=system_actor)
    problem = _refusal(institution, system_actor, primary_id=MEDIAL)
    assert problem.code == "PRIMARY_ID_TAKEN"
    assert Patron.objects.count() == 1


@pytest.mark.django_db
def test_dotted_capital_i_and_plain_i_are_two_users(institution, system_actor) -> None:
    for primary_id in ("İ1", "i1"):
        patron_create(
            institution=institution, data=user_json(primary_id=primary_id), actor=system_actor
        )
    assert set(Patron.objects.values_list("primary_id", flat=True)) == {"İ1", "i1"}


@pytest.mark.django_db
def test_a_decomposed_primary_id_is_stored_composed(institution, system_actor) -> None:
    decomposed = unicodedata.normalize("NFD", "José")
    patron = patron_create(
        institution=institution, data=user_json(primary_id=decomposed), actor=system_actor
    )
    patron.refresh_from_db()
    assert patron.primary_id == "José"
    assert _refusal(institution, system_actor, primary_id="JOSÉ").code == "PRIMARY_ID_TAKEN"


@pytest.mark.django_db
@pytest.mark.parametrize(("value", "named"), BIDI_AND_INVISIBLE[:3])
def test_a_primary_id_with_an_invisible_character_is_refused(
    institution, system_actor, value: str, named: str
) -> None:
    problem = _refusal(institution, system_actor, primary_id=value)
    assert (problem.code, problem.field) == ("INVALID_CHARACTER", "primary_id")
    assert named in problem.message
    assert not Patron.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("text", ["Ada\x00", "Ada\ud800"])
def test_text_no_database_stores_is_refused_naming_the_field(
    institution, system_actor, text: str
) -> None:
    problem = _refusal(institution, system_actor, first_name=text)
    assert (problem.code, problem.field) == ("INVALID_CHARACTER", "first_name")
    contact = user_json()["contact_info"]
    contact["address"][0]["city"] = text
    problem = _refusal(institution, system_actor, contact_info=contact)
    assert (problem.code, problem.field) == ("INVALID_CHARACTER", "address[0].city")
    assert not Patron.objects.exists()


@pytest.mark.django_db
def test_stored_keys_are_case_folded_again_and_a_clash_keeps_its_old_key(
    institution, system_actor
) -> None:
    sigma = patron_create(
        institution=institution, data=user_json(primary_id=CAPITALS), actor=system_actor
    )
    strasse = patron_create(
        institution=institution, data=user_json(primary_id="STRASSE"), actor=system_actor
    )
    street = patron_create(
        institution=institution, data=user_json(primary_id="x1"), actor=system_actor
    )
    # As the keys were before: lower-cased, where the capitals end in a final sigma, ß stays ß.
    rows = PatronIdentifier.objects.filter(id_type="primary_id")
    rows.filter(patron=sigma).update(value_key=FINAL)
    rows.filter(patron=street).update(value="straße", value_key="straße")
    migration = importlib.import_module(
        "patronsync.patrons.migrations.0003_identifier_keys_casefold"
    )
    migration.recompute_keys(apps, None)
    keys = dict(rows.values_list("patron_id", "value_key"))
    assert keys[sigma.id] == MEDIAL
    assert keys[strasse.id] == "strasse"
    assert keys[street.id] == "straße"  # 'strasse' is STRASSE's: the old key stays


@pytest.mark.django_db
def test_a_nested_segment_value_no_database_stores_is_refused(institution, system_actor) -> None:
    problem = _refusal(
        institution, system_actor, rs_library=[{"code": {"value": "MAIN\x00", "desc": "Main"}}]
    )
    assert (problem.code, problem.field) == ("INVALID_CHARACTER", "rs_library[0].code")
    assert "(U+0000)" in problem.message
    assert not Patron.objects.exists()
