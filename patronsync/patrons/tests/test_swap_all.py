"""Alma's Swap All, field by field (SPEC §3.3 for a synchronize, §5.3 for the API)."""

from __future__ import annotations

import pytest

from patronsync.patrons.services import Actor, patron_swap_all, patron_update
from patronsync.patrons.swap import API_MODE, SwapContext

from .factories import patron_factory, user_json

pytestmark = pytest.mark.django_db

SIS = SwapContext(profile_code="SIS", record_type="PUBLIC")
JOB = Actor.job(1)
STAFF = Actor.api("staff tool")


def sync(patron, **fields):
    """Synchronize `patron` from a record that is the same on every call except for `fields`."""
    pid = patron.primary_id
    base = {
        "last_name": "Stable",
        "contact_info": {"email": [{"email_address": f"{pid}@uni.edu", "preferred": True}]},
        "user_identifier": [{"id_type": "BARCODE", "value": f"{pid}-B"}],
    }
    data = user_json(primary_id=pid, **{**base, **fields})
    changes = patron_swap_all(patron=patron, data=data, actor=JOB, context=SIS)
    patron.refresh_from_db()
    return changes


def test_core_fields_are_replaced_and_absent_ones_removed(institution):
    patron = patron_factory(institution, first_name="Ann", job_description="Lecturer")
    data = user_json(primary_id=patron.primary_id, first_name="Anne")
    data.pop("job_description", None)
    patron_swap_all(patron=patron, data=data, actor=JOB, context=SIS)
    patron.refresh_from_db()
    assert patron.first_name == "Anne"
    assert patron.job_description == ""


def test_protected_field_follows_sis_when_not_changed_by_staff(institution):
    patron = patron_factory(institution, user_group="GRAD")
    sync(patron, user_group="FACULTY")
    assert patron.user_group == "FACULTY"
    assert patron.protection["user_group"]["sis"] == "FACULTY"


def test_protected_field_changed_by_staff_survives_sync(institution):
    patron = patron_factory(institution, user_group="GRAD")
    sync(patron, user_group="GRAD")
    patron_update(patron=patron, data={"user_group": "STAFF"}, actor=STAFF)
    sync(patron, user_group="FACULTY")
    assert patron.user_group == "STAFF"
    assert patron.is_manually_changed("user_group")


def test_protected_field_follows_sis_again_when_feed_repeats_last_sis_value(institution):
    patron = patron_factory(institution, user_group="GRAD")
    sync(patron, user_group="GRAD")
    patron_update(patron=patron, data={"user_group": "STAFF"}, actor=STAFF)
    sync(patron, user_group="GRAD")
    assert patron.user_group == "GRAD"
    assert not patron.is_manually_changed("user_group")
    sync(patron, user_group="FACULTY")
    assert patron.user_group == "FACULTY"


def test_protected_field_empty_in_feed_is_kept(institution):
    patron = patron_factory(institution, user_group="GRAD", pref_first_name="Annie")
    sync(patron, user_group=None, pref_first_name="")
    assert patron.user_group == "GRAD"
    assert patron.pref_first_name == "Annie"


def test_same_pin_twice_is_not_a_change(institution):
    patron = patron_factory(institution)
    assert "pin_number" in sync(patron, pin_number="2468")
    assert sync(patron, pin_number="2468") == {}
    assert "2468" not in str(patron.protection)


def test_external_segments_replaced_internal_segments_kept(institution):
    patron = patron_factory(institution)
    internal = {"email_address": "desk@library.edu", "segment_type": "Internal"}
    emails = [*patron.segments["email"], internal]
    patron_update(patron=patron, data={"contact_info": {"email": emails}}, actor=STAFF)
    sync(patron, contact_info={"email": [{"email_address": "new@uni.edu", "preferred": True}]})
    addresses = [e["email_address"] for e in patron.segments["email"]]
    assert addresses == ["desk@library.edu", "new@uni.edu"]
    assert patron.segments["email"][1]["segment_type"] == "External"
    assert "address" not in patron.segments  # the feed sent no addresses


def test_segment_type_internal_in_a_feed_is_treated_as_external(institution):
    patron = patron_factory(institution)
    sync(patron, user_statistic=[{"statistic_category": "LAW", "segment_type": "Internal"}])
    sync(patron, user_statistic=[{"statistic_category": "MED"}])
    assert [s["statistic_category"]["value"] for s in patron.segments["user_statistic"]] == ["MED"]


def test_internal_identifiers_kept_external_replaced(institution):
    patron = patron_factory(
        institution,
        user_identifier=[
            {"id_type": "BARCODE", "value": "OLD-1"},
            {"id_type": "NET_ID", "value": "lib-1", "segment_type": "Internal"},
        ],
    )
    sync(patron, user_identifier=[{"id_type": "BARCODE", "value": "NEW-1"}])
    values = sorted(patron.identifiers.values_list("value", flat=True))
    assert values == sorted([patron.primary_id, "lib-1", "NEW-1"])


def test_roles_are_not_touched_by_sync(institution):
    patron = patron_factory(institution, user_role=[{"role_type": {"value": "200"}}])
    sync(patron, user_role=[])
    assert patron.segments["user_role"] == [{"role_type": {"value": "200"}}]


def test_sync_sets_account_type_external_id_and_record_type(institution):
    patron = patron_factory(institution, external_id="OTHER", record_type="STAFF")
    sync(patron)
    assert (patron.account_type, patron.external_id, patron.record_type) == (
        "EXTERNAL",
        "SIS",
        "PUBLIC",
    )


def test_unchanged_record_changes_nothing(institution):
    patron = patron_factory(institution, primary_id="same-1")
    sync(patron)
    assert sync(patron) == {}


def test_api_put_replaces_protected_field_only_with_override(institution):
    patron = patron_factory(institution, user_group="GRAD")
    patron_update(patron=patron, data={"user_group": "STAFF"}, actor=STAFF)
    data = user_json(primary_id=patron.primary_id, user_group="FACULTY", external_id="SIS")
    patron_swap_all(patron=patron, data=data, actor=STAFF, context=SwapContext(mode=API_MODE))
    patron.refresh_from_db()
    assert patron.user_group == "STAFF"
    context = SwapContext(mode=API_MODE, override=frozenset({"user_group"}))
    patron_swap_all(patron=patron, data=data, actor=STAFF, context=context)
    patron.refresh_from_db()
    assert patron.user_group == "FACULTY"


def test_api_put_keeps_roles_when_request_has_none(institution):
    patron = patron_factory(institution, user_role=[{"role_type": {"value": "200"}}])
    data = user_json(primary_id=patron.primary_id)
    patron_swap_all(patron=patron, data=data, actor=STAFF, context=SwapContext(mode=API_MODE))
    patron.refresh_from_db()
    assert patron.segments["user_role"] == [{"role_type": {"value": "200"}}]
