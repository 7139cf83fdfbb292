"""Roles decide what each staff account may do, and in which institution."""

from __future__ import annotations

import pytest

from patronsync.accounts.choices import Action, StaffRole
from patronsync.accounts.selectors import institutions_for_staff
from patronsync.accounts.services import staff_can, staff_create, staff_require
from patronsync.core.exceptions import PermissionDenied
from patronsync.patrons.tests.factories import patron_factory

pytestmark = pytest.mark.django_db


def make_staff(username, memberships):
    return staff_create(username=username, password="a long password 1", memberships=memberships)


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (StaffRole.GENERAL_SYSTEM_ADMINISTRATOR, {"view", "edit_users", "configure"}),
        (StaffRole.USER_MANAGER, {"view", "edit_users"}),
        (StaffRole.VIEWER, {"view"}),
    ],
)
def test_each_role_allows_exactly_its_actions(institution, role, allowed):
    user = make_staff(f"u-{role}", {institution: role})
    granted = {a for a in Action.values if staff_can(user=user, institution=institution, action=a)}
    assert granted == allowed


def test_role_in_one_institution_gives_nothing_in_another(institution, other_institution):
    user = make_staff("local", {institution: StaffRole.GENERAL_SYSTEM_ADMINISTRATOR})
    assert not staff_can(user=user, institution=other_institution, action="view")
    with pytest.raises(PermissionDenied):
        staff_require(user=user, institution=other_institution, action="view")
    assert list(institutions_for_staff(user=user)) == [institution]


def test_deactivated_account_may_do_nothing(institution):
    user = make_staff("old", {institution: StaffRole.GENERAL_SYSTEM_ADMINISTRATOR})
    user.is_active = False
    assert not staff_can(user=user, institution=institution, action="view")


def test_unknown_role_is_refused(institution):
    with pytest.raises(ValueError, match="Unknown role"):
        make_staff("bad", {institution: "OWNER"})


def test_user_pages_need_a_role_in_the_institution(client, institution, other_institution):
    patron = patron_factory(institution, primary_id="visible")
    outsider = make_staff("outsider", {other_institution: StaffRole.VIEWER})
    client.force_login(outsider)
    assert client.get(f"/users/{patron.pk}/").status_code == 404
    response = client.get("/?institution=main")
    assert response.status_code == 200
    assert b"visible" not in response.content


def test_viewer_sees_users_of_own_institution_only(client, institution, other_institution):
    patron_factory(institution, primary_id="ours")
    theirs = patron_factory(other_institution, primary_id="theirs")
    viewer = make_staff("viewer", {institution: StaffRole.VIEWER})
    client.force_login(viewer)
    page = client.get("/").content.decode()
    assert "ours" in page
    assert "theirs" not in page
    assert client.get(f"/users/{theirs.pk}/").status_code == 404
    assert client.get("/?institution=branch").content.decode().count("theirs") == 0


def test_anonymous_visitor_is_sent_to_login(client, institution):
    response = client.get("/")
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_user_page_shows_identifiers_and_history(client, institution):
    patron = patron_factory(institution, primary_id="shown")
    viewer = make_staff("viewer2", {institution: StaffRole.VIEWER})
    client.force_login(viewer)
    page = client.get(f"/users/{patron.pk}/").content.decode()
    assert "BARCODE" in page
    assert "Created" in page  # the history row of its creation
