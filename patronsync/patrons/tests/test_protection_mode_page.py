"""The user page says which rule holds a protected field the library changed: Alma's or the
profile's sticky protection."""

from __future__ import annotations

import pytest
from django.urls import reverse

from patronsync.accounts.choices import StaffRole
from patronsync.jobs.services import profile_run
from patronsync.loader.tests.conftest import make_profile, user_xml, users_doc, write_zip
from patronsync.patrons.selectors import patron_get_by_primary_id
from patronsync.patrons.services import Actor, patron_update

pytestmark = pytest.mark.django_db


def _edited_user(institution, drop, protection):
    for folder in ("import", "synchronize"):
        (drop / folder).mkdir(exist_ok=True)
    profile = make_profile(institution, drop, protection=protection)
    write_zip(drop / "synchronize" / "a.zip", {"u.xml": users_doc(user_xml("s-1", group="GRAD"))})
    profile_run(profile=profile, kind="synchronize")
    patron = patron_get_by_primary_id(institution=institution, primary_id="s-1")
    patron_update(patron=patron, data={"user_group": "STAFF"}, actor=Actor.api("desk"))
    return patron


@pytest.mark.parametrize(
    ("protection", "held", "not_held"),
    [
        ("alma", "held until the SIS repeats its last value", "held until Restore"),
        ("sticky", "held until Restore", "held until the SIS repeats its last value"),
    ],
)
def test_the_user_page_names_the_rule_that_holds_a_protected_field(
    client, staff, institution, tmp_path, protection, held, not_held
):
    patron = _edited_user(institution, tmp_path, protection)
    client.force_login(staff(institution, StaffRole.VIEWER))
    page = client.get(reverse("patrons:detail", args=[patron.pk])).content.decode()
    assert f"Changed in the library: {held}" in page
    assert f"Changed in the library: {not_held}" not in page


def test_a_sticky_profiles_page_says_the_sis_repeating_its_value_does_not_lift_it(
    client, staff, institution, tmp_path
):
    patron = _edited_user(institution, tmp_path, "sticky")
    client.force_login(staff(institution, StaffRole.USER_MANAGER))
    page = client.get(reverse("patrons:detail", args=[patron.pk])).content.decode()
    assert "until Restore gives the field back to the SIS (the profile's sticky" in page
    assert 'name="field" value="user_group"' in page  # its Restore button
