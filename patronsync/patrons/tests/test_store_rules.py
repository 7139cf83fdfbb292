"""The user store's rules: uniqueness, preferred segments, codes, account rules, secrets."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import check_password

from patronsync.core.exceptions import RuleViolation
from patronsync.patrons.models import Patron, PatronIdentifier
from patronsync.patrons.selectors import (
    patron_get_by_identifier,
    patron_get_by_primary_id,
    patron_to_json,
)
from patronsync.patrons.services import patron_create, patron_update

from .factories import patron_factory, user_json

pytestmark = pytest.mark.django_db


def test_primary_id_is_unique_case_insensitively(institution, system_actor):
    patron_factory(institution, primary_id="JSmith")
    with pytest.raises(RuleViolation) as caught:
        patron_create(
            institution=institution, data=user_json(primary_id="jsmith"), actor=system_actor
        )
    assert caught.value.code == "PRIMARY_ID_TAKEN"
    assert caught.value.field == "primary_id"
    assert "jsmith" in caught.value.message
    assert Patron.objects.filter(institution=institution).count() == 1


def test_lookup_by_primary_id_ignores_case(institution):
    patron = patron_factory(institution, primary_id="JSmith")
    assert patron_get_by_primary_id(institution=institution, primary_id="jSMITH") == patron


def test_identifier_taken_by_another_user_is_refused_and_named(institution, system_actor):
    patron_factory(
        institution, user_identifier=[{"id_type": {"value": "BARCODE"}, "value": "123456"}]
    )
    data = user_json(user_identifier=[{"id_type": {"value": "UNIV_ID"}, "value": "123456"}])
    with pytest.raises(RuleViolation) as caught:
        patron_create(institution=institution, data=data, actor=system_actor)
    assert caught.value.code == "IDENTIFIER_TAKEN"
    assert caught.value.alma_code == "401851"
    assert "User with identifier 123456 of type UNIV_ID already exists" in caught.value.message
    assert not Patron.objects.filter(primary_id=data["primary_id"]).exists()


def test_identifier_may_not_repeat_the_users_own_primary_id(institution, system_actor):
    data = user_json(
        primary_id="999", user_identifier=[{"id_type": {"value": "BARCODE"}, "value": "999"}]
    )
    with pytest.raises(RuleViolation) as caught:
        patron_create(institution=institution, data=data, actor=system_actor)
    assert caught.value.code == "IDENTIFIER_REPEATED"
    assert PatronIdentifier.objects.count() == 0


def test_identifier_may_not_appear_twice_on_one_user(institution, system_actor):
    data = user_json(
        user_identifier=[
            {"id_type": {"value": "BARCODE"}, "value": "A1"},
            {"id_type": {"value": "UNIV_ID"}, "value": "a1"},
        ]
    )
    with pytest.raises(RuleViolation, match=r"A1|a1"):
        patron_create(institution=institution, data=data, actor=system_actor)


def test_same_identifiers_are_allowed_in_two_institutions(institution, other_institution):
    ids = [{"id_type": {"value": "BARCODE"}, "value": "555"}]
    first = patron_factory(institution, primary_id="same", user_identifier=ids)
    second = patron_factory(other_institution, primary_id="same", user_identifier=ids)
    assert first.pk != second.pk
    assert patron_get_by_primary_id(institution=other_institution, primary_id="same") == second
    found = patron_get_by_identifier(institution=institution, id_type="BARCODE", value="555")
    assert found == first


def test_lookup_by_identifier_type_does_not_match_other_types(institution):
    patron_factory(institution, user_identifier=[{"id_type": {"value": "BARCODE"}, "value": "77"}])
    assert patron_get_by_identifier(institution=institution, id_type="UNIV_ID", value="77") is None
    assert patron_get_by_identifier(institution=institution, id_type="all_unique", value="77")


@pytest.mark.parametrize("kind", ["address", "email", "phone"])
def test_only_one_preferred_contact_segment(institution, system_actor, kind):
    items = {
        "address": [{"line1": f"{i} Road", "city": "X", "preferred": True} for i in range(2)],
        "email": [{"email_address": f"{i}@x.edu", "preferred": "true"} for i in range(2)],
        "phone": [{"phone_number": f"555-{i}", "preferred": True} for i in range(2)],
    }[kind]
    data = user_json(contact_info={kind: items})
    with pytest.raises(RuleViolation) as caught:
        patron_create(institution=institution, data=data, actor=system_actor)
    assert caught.value.code == "TOO_MANY_PREFERRED"
    assert caught.value.field == f"{kind}.preferred"
    assert not Patron.objects.exists()


def test_only_one_phone_preferred_for_sms(institution, system_actor):
    phones = [{"phone_number": f"555-{i}", "preferred_sms": True} for i in range(2)]
    with pytest.raises(RuleViolation, match="preferred sms"):
        patron_create(
            institution=institution,
            data=user_json(contact_info={"phone": phones}),
            actor=system_actor,
        )


def test_second_preferred_email_by_update_is_refused_and_nothing_changes(institution, system_actor):
    patron = patron_factory(institution)
    emails = [{"email_address": f"{i}@x.edu", "preferred": True} for i in range(2)]
    with pytest.raises(RuleViolation):
        patron_update(patron=patron, data={"contact_info": {"email": emails}}, actor=system_actor)
    patron.refresh_from_db()
    assert len(patron.segments["email"]) == 1


def test_unknown_user_group_is_refused_in_almas_words(institution, system_actor):
    with pytest.raises(RuleViolation) as caught:
        patron_create(
            institution=institution, data=user_json(user_group="NOPE"), actor=system_actor
        )
    assert caught.value.alma_code == "401852"
    assert "Given user group is not legal" in caught.value.message
    assert "NOPE" in caught.value.message


def test_unknown_code_in_a_segment_names_field_and_value(institution, system_actor):
    data = user_json(user_identifier=[{"id_type": {"value": "SHOE_SIZE"}, "value": "42"}])
    with pytest.raises(RuleViolation) as caught:
        patron_create(institution=institution, data=data, actor=system_actor)
    assert caught.value.field == "user_identifier.id_type"
    assert caught.value.value == "SHOE_SIZE"
    assert caught.value.alma_code == "401864"


def test_code_tables_are_per_institution(institution, other_institution, system_actor):
    from patronsync.core.models import CodeTableEntry

    CodeTableEntry.objects.create(institution=institution, table="UserGroups", code="VISITOR")
    patron_factory(institution, user_group="VISITOR")
    with pytest.raises(RuleViolation):
        patron_create(
            institution=other_institution, data=user_json(user_group="VISITOR"), actor=system_actor
        )


def test_missing_mandatory_segment_field_is_named(institution, system_actor):
    data = user_json(user_identifier=[{"id_type": {"value": "BARCODE"}}])
    with pytest.raises(RuleViolation, match=r"Mandatory field is missing: user_identifier\.value"):
        patron_create(institution=institution, data=data, actor=system_actor)


def test_invalid_date_names_the_field(institution, system_actor):
    with pytest.raises(RuleViolation, match=r"birth_date.*31-01-2000"):
        patron_create(
            institution=institution, data=user_json(birth_date="31-01-2000"), actor=system_actor
        )


def test_external_user_needs_external_id_and_internal_user_must_not_have_one(
    institution, system_actor
):
    with pytest.raises(RuleViolation) as caught:
        patron_create(institution=institution, data=user_json(external_id=""), actor=system_actor)
    assert caught.value.alma_code == "401854"
    with pytest.raises(RuleViolation) as caught:
        patron_create(
            institution=institution,
            data=user_json(account_type={"value": "INTERNAL"}),
            actor=system_actor,
        )
    assert caught.value.alma_code == "401853"


def test_defaults_on_creation(institution, system_actor):
    patron = patron_create(
        institution=institution,
        data={"primary_id": "min", "external_id": "SIS"},
        actor=system_actor,
    )
    assert (patron.status, patron.preferred_language, patron.account_type) == (
        "ACTIVE",
        "en",
        "EXTERNAL",
    )


def test_pin_is_stored_hashed_and_never_returned(institution):
    patron = patron_factory(institution, pin_number="4711")
    patron.refresh_from_db()
    assert patron.pin_hash != "4711"
    assert check_password("4711", patron.pin_hash)
    assert not check_password("4712", patron.pin_hash)
    assert "pin_number" not in patron_to_json(patron)
    assert "4711" not in str(patron_to_json(patron))


def test_json_form_carries_segments_with_segment_type_and_descriptions(institution):
    from patronsync.core.selectors import code_tables_for_institution

    patron = patron_factory(institution, primary_id="json1")
    data = patron_to_json(patron, codes=code_tables_for_institution(institution=institution))
    assert data["user_group"] == {"value": "GRAD", "desc": "Graduate student"}
    assert data["contact_info"]["email"][0]["segment_type"] == "External"
    assert data["user_identifier"][0]["id_type"]["desc"] == "Barcode"
    assert data["expiry_date"] == "2030-01-31Z"
