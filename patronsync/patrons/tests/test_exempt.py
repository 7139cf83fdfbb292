"""The exemption from the leavers rule and purge: set on the user edit page, with history."""

from __future__ import annotations

import pytest

from patronsync.accounts.choices import StaffRole
from patronsync.patrons.models import Patron, PatronChange
from patronsync.patrons.services import Actor, patron_set_exempt
from patronsync.patrons.tests.factories import patron_factory
from patronsync.patrons.tests.test_pages import form_data, urls

pytestmark = pytest.mark.django_db

LABEL = "Exempt from leavers rules and purge"


@pytest.fixture
def patron(institution):
    return patron_factory(
        institution, primary_id="x-1", last_name="Okafor", user_group={"value": "GRAD"}
    )


@pytest.mark.parametrize("role", [StaffRole.USER_MANAGER, StaffRole.GENERAL_SYSTEM_ADMINISTRATOR])
def test_staff_who_edit_users_set_and_lift_the_exemption(client, staff, institution, patron, role):
    account = staff(institution, role)
    client.force_login(account)
    page = client.get(urls(patron.pk)["edit"])
    assert LABEL in page.content.decode()
    data = form_data(page)
    assert "exempt" not in data  # unchecked
    data["exempt"] = "on"
    response = client.post(urls(patron.pk)["edit"], data, follow=True)
    assert f"{LABEL} changed" in response.content.decode()
    assert Patron.objects.get(pk=patron.pk).exempt is True
    change = PatronChange.objects.filter(patron=patron).latest("id")
    assert change.changes == {"exempt": {"before": False, "after": True}}
    assert (change.actor_kind, change.actor_user) == ("staff", account)
    detail = client.get(urls(patron.pk)["detail"]).content.decode()
    assert f"<dt>{LABEL}</dt><dd>Yes</dd>" in detail

    data = form_data(client.get(urls(patron.pk)["edit"]))
    assert data["exempt"] == "on"  # shown checked
    del data["exempt"]
    client.post(urls(patron.pk)["edit"], data)
    assert Patron.objects.get(pk=patron.pk).exempt is False


def test_a_viewer_may_not_set_the_exemption(client, staff, institution, patron):
    client.force_login(staff(institution, StaffRole.VIEWER))
    assert client.post(urls(patron.pk)["edit"], {"exempt": "on"}).status_code == 403
    assert Patron.objects.get(pk=patron.pk).exempt is False
    assert f"<dt>{LABEL}</dt><dd>No</dd>" in client.get(urls(patron.pk)["detail"]).content.decode()


def test_staff_of_another_institution_may_not_set_it(client, staff, other_institution, patron):
    client.force_login(staff(other_institution, StaffRole.USER_MANAGER))
    assert client.post(urls(patron.pk)["edit"], {"exempt": "on"}).status_code == 404
    assert Patron.objects.get(pk=patron.pk).exempt is False


def test_setting_it_unchanged_writes_nothing(institution, patron):
    actor = Actor.system()
    history = PatronChange.objects.filter(patron=patron).count()
    assert patron_set_exempt(patron=patron, exempt=False, actor=actor) is False
    assert PatronChange.objects.filter(patron=patron).count() == history
    assert patron_set_exempt(patron=patron, exempt=True, actor=actor) is True
    assert PatronChange.objects.filter(patron=patron).count() == history + 1
