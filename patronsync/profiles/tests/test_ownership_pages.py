"""The profile page shows field ownership and the protection mode; the wizard sets the mode."""

from __future__ import annotations

import pytest
from django.urls import reverse

from patronsync.accounts.choices import StaffRole
from patronsync.profiles.models import IntegrationProfile
from patronsync.profiles.services import profile_update

from .test_pages import GSA, STEP_2, login, make_connection, make_profile, text, walk_step_1

pytestmark = pytest.mark.django_db


@pytest.fixture
def connection(institution, tmp_path):
    return make_connection(institution, tmp_path)


@pytest.fixture
def profile(institution, connection):
    return make_profile(institution, connection)


def test_the_profile_page_says_every_field_is_sis_owned_and_alma_rule_by_default(
    client, staff, institution, profile
):
    login(client, staff, institution, StaffRole.VIEWER)
    page = text(client.get(reverse("profiles:detail", args=[profile.pk])))
    assert "Every field SIS-owned (Swap All)" in page
    assert "Alma's rule: held until the SIS repeats its last value" in page


def test_the_profile_page_lists_owned_fields_and_sticky_protection(
    client, staff, institution, profile
):
    profile_update(
        profile=profile,
        values={
            "sync_ownership": {"email": "library", "expiry_date": "preserve_if_empty"},
            "sync_protection": "sticky",
        },
        actor="test",
    )
    login(client, staff, institution, StaffRole.VIEWER)
    page = text(client.get(reverse("profiles:detail", args=[profile.pk])))
    assert "Sticky: held until staff press Restore" in page
    assert "email</span>: Library-owned (a feed never touches it)" in page
    assert "expiry_date</span>: Preserve if empty" in page
    assert "Every field SIS-owned" not in page


def test_the_wizard_sets_sticky_protection_and_back_to_almas_rule(
    client, staff, institution, connection, profile
):
    login(client, staff, institution, GSA)
    edit = reverse("profiles:edit", args=[profile.pk])
    moved = walk_step_1(client, connection, url=edit)
    step_2 = text(client.get(moved["Location"]))
    assert 'name="sync_protection"' in step_2
    assert "Protection of library edits" in step_2
    data = {**STEP_2, "sync_match_id_type": "PRIMARY_ID", "sync_protection": "sticky"}
    saved = client.post(moved["Location"], data)
    assert saved.status_code == 302, text(saved)
    assert IntegrationProfile.objects.get(pk=profile.pk).sync_protection == "sticky"
    moved = walk_step_1(client, connection, url=edit)
    assert 'value="sticky" selected' in text(client.get(moved["Location"]))
    client.post(moved["Location"], {**data, "sync_protection": "alma"})
    assert IntegrationProfile.objects.get(pk=profile.pk).sync_protection == "alma"


def test_the_wizard_refuses_an_unknown_protection_mode_beside_its_field(
    client, staff, institution, connection, profile
):
    login(client, staff, institution, GSA)
    moved = walk_step_1(client, connection, url=reverse("profiles:edit", args=[profile.pk]))
    data = {**STEP_2, "sync_match_id_type": "PRIMARY_ID", "sync_protection": "forever"}
    page = text(client.post(moved["Location"], data))
    error = page.split('id="id_sync_protection-error">', 1)[1].split("</small>", 1)[0]
    assert "Protection of library edits" in error
    assert "forever" in error
    assert IntegrationProfile.objects.get(pk=profile.pk).sync_protection == "alma"


@pytest.mark.parametrize("role", [StaffRole.VIEWER, StaffRole.USER_MANAGER])
def test_readers_may_not_post_the_wizard(client, staff, institution, connection, profile, role):
    login(client, staff, institution, role)
    url = reverse("profiles:edit-2", args=[profile.pk])
    response = client.post(url, {**STEP_2, "sync_protection": "sticky"})
    assert response.status_code == 403
    assert IntegrationProfile.objects.get(pk=profile.pk).sync_protection == "alma"
