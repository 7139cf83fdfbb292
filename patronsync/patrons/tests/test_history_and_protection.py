"""History on every change, and the manual-change state of protected fields."""

from __future__ import annotations

import pytest

from patronsync.accounts.choices import StaffRole
from patronsync.accounts.services import staff_create
from patronsync.patrons.models import PatronChange
from patronsync.patrons.services import Actor, patron_delete, patron_update

from .factories import patron_factory

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(institution):
    return staff_create(
        username="manager",
        password="a long password 1",
        memberships={institution: StaffRole.USER_MANAGER},
    )


def test_creation_writes_history_with_after_values(institution):
    patron = patron_factory(institution, primary_id="h1", first_name="Grace")
    change = PatronChange.objects.get(patron=patron)
    assert change.action == "created"
    assert change.changes["first_name"] == {"before": None, "after": "Grace"}
    assert change.actor_kind == "system"


def test_update_writes_before_and_after_and_who(institution, manager):
    patron = patron_factory(institution, primary_id="h2", first_name="Grace")
    changes = patron_update(
        patron=patron, data={"first_name": "Gracie"}, actor=Actor.staff(manager)
    )
    assert changes == {"first_name": {"before": "Grace", "after": "Gracie"}}
    row = PatronChange.objects.filter(patron=patron, action="updated").get()
    assert row.actor_user == manager
    assert row.changes == {"first_name": {"before": "Grace", "after": "Gracie"}}


def test_update_that_changes_nothing_writes_nothing(institution, system_actor):
    patron = patron_factory(institution, first_name="Same")
    stamp = patron.updated_at
    assert patron_update(patron=patron, data={"first_name": "Same"}, actor=system_actor) == {}
    patron.refresh_from_db()
    assert patron.updated_at == stamp
    assert PatronChange.objects.filter(patron=patron).count() == 1


def test_identifier_change_is_in_history(institution, system_actor):
    patron = patron_factory(institution, primary_id="h3")
    new_ids = [{"id_type": {"value": "UNIV_ID"}, "value": "U-1"}]
    changes = patron_update(patron=patron, data={"user_identifier": new_ids}, actor=system_actor)
    assert changes["user_identifier"]["after"] == [
        {"id_type": "UNIV_ID", "value": "U-1", "segment_type": "External"}
    ]
    assert list(patron.identifiers.values_list("value", flat=True)) == ["h3", "U-1"]


def test_pin_change_is_recorded_masked(institution, system_actor):
    patron = patron_factory(institution)
    changes = patron_update(patron=patron, data={"pin_number": "1234"}, actor=system_actor)
    assert changes["pin_number"] == {"before": "", "after": "********"}
    assert "1234" not in str(PatronChange.objects.filter(patron=patron).values_list("changes"))


def test_deletion_keeps_a_history_row(institution, system_actor):
    patron = patron_factory(institution, primary_id="gone")
    patron_delete(patron=patron, actor=system_actor)
    row = PatronChange.objects.get(primary_id="gone", action="deleted")
    assert row.patron is None
    assert row.changes["primary_id"] == {"before": "gone", "after": None}


def test_staff_edit_of_protected_field_marks_it_manual(institution, manager):
    patron = patron_factory(institution, user_group="GRAD")
    patron_update(patron=patron, data={"user_group": "FACULTY"}, actor=Actor.staff(manager))
    patron.refresh_from_db()
    assert patron.is_manually_changed("user_group")
    assert not patron.is_manually_changed("job_category")


def test_job_edit_of_protected_field_does_not_mark_it_manual(institution):
    patron = patron_factory(institution, user_group="GRAD")
    patron_update(patron=patron, data={"user_group": "FACULTY"}, actor=Actor.job(7))
    patron.refresh_from_db()
    assert not patron.is_manually_changed("user_group")
    assert PatronChange.objects.filter(patron=patron, job_id=7).exists()


def test_staff_edit_of_core_field_is_not_protection(institution, manager):
    patron = patron_factory(institution, first_name="A")
    patron_update(patron=patron, data={"first_name": "B"}, actor=Actor.staff(manager))
    patron.refresh_from_db()
    assert patron.protection == {}
