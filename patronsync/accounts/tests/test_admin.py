"""The Django admin follows patronsync's roles: the administrator `createadmin` makes manages
institutions, code tables, staff and API keys there; users are read-only."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from patronsync.accounts.choices import StaffRole
from patronsync.accounts.models import ApiKey, Membership, StaffUser
from patronsync.accounts.services import staff_create
from patronsync.cli import main
from patronsync.core.models import CodeTableEntry, Institution
from patronsync.patrons.models import Patron
from patronsync.patrons.tests.factories import patron_factory

pytestmark = pytest.mark.django_db

PASSWORD = "a long password 1"
CONFIGURATION = ["core/codetableentry", "accounts/staffuser", "accounts/apikey", "core/institution"]


@pytest.fixture
def gsa(institution, monkeypatch, capsys) -> Client:
    """A client signed in with the password of the account `patronsync createadmin` makes."""
    monkeypatch.setenv("PATRONSYNC_ADMIN_PASSWORD", PASSWORD)
    assert main(["createadmin", "--username", "boss"]) == 0
    capsys.readouterr()
    client = Client()
    assert client.login(username="boss", password=PASSWORD)
    return client


def signed_in(username: str, memberships: dict) -> Client:
    staff_create(username=username, password=PASSWORD, memberships=memberships)
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    return client


def entry(institution, code="GRADSTUD", **extra) -> CodeTableEntry:
    return CodeTableEntry.objects.create(
        institution=institution, table="UserGroups", code=code, **extra
    )


@pytest.mark.parametrize("model", CONFIGURATION)
@pytest.mark.parametrize("page", ["", "add/"])
def test_administrator_from_createadmin_reaches_every_configuration_page(gsa, model, page):
    response = gsa.get(f"/admin/{model}/{page}")
    assert response.status_code == 200, response.content[:300]


def test_admin_index_lists_the_configuration_models_for_the_administrator(gsa):
    page = gsa.get("/admin/").content.decode()
    for model in CONFIGURATION:
        assert f'href="/admin/{model}/add/"' in page


def test_administrator_adds_a_user_group_in_the_admin(gsa, institution):
    response = gsa.post(
        "/admin/core/codetableentry/add/",
        {
            "institution": institution.pk,
            "table": "UserGroups",
            "code": "GRADSTUD",
            "description": "Graduate student",
            "enabled": "on",
            "position": 0,
        },
    )
    assert response.status_code == 302, response.content[:500]
    added = CodeTableEntry.objects.get(institution=institution, code="GRADSTUD")
    assert added.description == "Graduate student"


def test_marking_a_row_default_in_the_admin_unmarks_the_tables_other_default(gsa, institution):
    before = CodeTableEntry.objects.get(
        institution=institution, table="UserPreferredLanguage", is_default=True
    )
    german = CodeTableEntry.objects.get(
        institution=institution, table="UserPreferredLanguage", code="de"
    )
    response = gsa.post(
        f"/admin/core/codetableentry/{german.pk}/change/",
        {
            "institution": institution.pk,
            "table": "UserPreferredLanguage",
            "code": "de",
            "description": german.description,
            "is_default": "on",
            "enabled": "on",
            "position": german.position,
        },
    )
    assert response.status_code == 302, response.content[:500]
    defaults = CodeTableEntry.objects.filter(
        institution=institution, table="UserPreferredLanguage", is_default=True
    )
    assert [row.code for row in defaults] == ["de"]
    assert before.code == "en"


def test_administrator_creates_an_api_key_shown_once(gsa, institution):
    response = gsa.post(
        "/admin/accounts/apikey/add/",
        {
            "institution": institution.pk,
            "name": "discovery",
            "scopes": ["users:read", "config:write"],
            "rate_limit_per_minute": 300,
            "rate_limit_per_hour": 10000,
        },
        follow=True,
    )
    assert response.status_code == 200
    key = ApiKey.objects.get(name="discovery")
    assert key.scopes == "users:read config:write"
    assert re.search(rf"{key.prefix}\S+", response.content.decode())
    assert key.created_by.username == "boss"


def test_administrator_adds_staff_who_can_then_sign_in(gsa, institution):
    response = gsa.post(
        "/admin/accounts/staffuser/add/",
        {
            "username": "clerk",
            "usable_password": "true",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "memberships-TOTAL_FORMS": "1",
            "memberships-INITIAL_FORMS": "0",
            "memberships-0-institution": institution.pk,
            "memberships-0-role": StaffRole.USER_MANAGER,
        },
    )
    assert response.status_code == 302, response.content[:800]
    membership = Membership.objects.get(user__username="clerk")
    assert (membership.institution, membership.role) == (institution, StaffRole.USER_MANAGER)
    assert Client().login(username="clerk", password=PASSWORD)


def test_new_institution_from_the_admin_is_seeded_and_administered_by_its_creator(gsa):
    response = gsa.post(
        "/admin/core/institution/add/",
        {
            "code": "law",
            "name": "Law library",
            "time_zone": "Europe/Vienna",
            **{
                f.name: f.default
                for f in Institution._meta.concrete_fields
                if f.name.startswith("api_")
            },
        },
    )
    assert response.status_code == 302, response.content[:800]
    law = Institution.objects.get(code="law")
    assert CodeTableEntry.objects.filter(institution=law, table="UserGroups").exists()
    membership = Membership.objects.get(user__username="boss", institution=law)
    assert membership.role == StaffRole.GENERAL_SYSTEM_ADMINISTRATOR
    assert gsa.get(f"/admin/core/institution/{law.pk}/change/").status_code == 200


def test_administrator_may_not_delete_an_institution(gsa, institution):
    response = gsa.post(f"/admin/core/institution/{institution.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert Institution.objects.filter(pk=institution.pk).exists()


def test_administrator_sees_nothing_of_another_institution(
    institution, other_institution, monkeypatch, capsys
):
    monkeypatch.setenv("PATRONSYNC_ADMIN_PASSWORD", PASSWORD)
    assert main(["createadmin", "--username", "local", "--institution", "main"]) == 0
    client = Client()
    assert client.login(username="local", password=PASSWORD)
    theirs = entry(other_institution, code="THEIRS", description="Their own group")
    entry(institution, code="OURS", description="Our own group")
    listing = client.get("/admin/core/codetableentry/?q=own+group").content.decode()
    assert "Our own group" in listing
    assert "Their own group" not in listing
    assert "Branch library" not in client.get("/admin/core/codetableentry/").content.decode()
    assert client.get(f"/admin/core/codetableentry/{theirs.pk}/change/").status_code != 200
    add_page = client.get("/admin/core/codetableentry/add/").content.decode()
    assert f'value="{other_institution.pk}"' not in add_page
    assert client.get(f"/admin/core/institution/{other_institution.pk}/change/").status_code != 200


def test_administrator_cannot_take_over_an_account_with_a_role_elsewhere(
    gsa, institution, other_institution
):
    shared = staff_create(
        username="shared",
        password=PASSWORD,
        memberships={institution: StaffRole.VIEWER, other_institution: StaffRole.VIEWER},
    )
    branch_admin = staff_create(
        username="branch-admin",
        password=PASSWORD,
        memberships={other_institution: StaffRole.GENERAL_SYSTEM_ADMINISTRATOR},
    )
    assert gsa.get(f"/admin/accounts/staffuser/{shared.pk}/change/").status_code == 200
    assert gsa.get(f"/admin/accounts/staffuser/{shared.pk}/password/").status_code == 403
    response = gsa.post(
        f"/admin/accounts/staffuser/{shared.pk}/password/",
        {"password1": "taken over 1234", "password2": "taken over 1234", "usable_password": "true"},
    )
    assert response.status_code == 403
    assert gsa.get(f"/admin/accounts/staffuser/{branch_admin.pk}/change/").status_code != 200


def test_administrator_cannot_make_a_superuser_in_the_admin(gsa, institution):
    clerk = staff_create(
        username="clerk", password=PASSWORD, memberships={institution: StaffRole.VIEWER}
    )
    page = gsa.get(f"/admin/accounts/staffuser/{clerk.pk}/change/").content.decode()
    assert 'name="is_superuser"' not in page
    assert 'name="user_permissions"' not in page
    gsa.post(
        f"/admin/accounts/staffuser/{clerk.pk}/change/",
        {
            "username": "clerk",
            "is_active": "on",
            "is_superuser": "on",
            "date_joined_0": "2025-01-01",
            "date_joined_1": "00:00:00",
            "memberships-TOTAL_FORMS": "1",
            "memberships-INITIAL_FORMS": "1",
            "memberships-0-id": clerk.memberships.get().pk,
            "memberships-0-user": clerk.pk,
            "memberships-0-institution": institution.pk,
            "memberships-0-role": StaffRole.VIEWER,
        },
    )
    assert not StaffUser.objects.get(pk=clerk.pk).is_superuser


@pytest.mark.parametrize("role", [StaffRole.USER_MANAGER, StaffRole.VIEWER])
@pytest.mark.parametrize("model", CONFIGURATION)
def test_staff_without_the_administrator_role_cannot_reach_configuration_pages(
    institution, role, model
):
    client = signed_in(f"staff-{role}", {institution: role})
    assert client.get(f"/admin/{model}/").status_code == 403
    assert client.get(f"/admin/{model}/add/").status_code == 403


def test_user_page_in_the_admin_is_read_only_and_hides_the_hashes(gsa, institution):
    patron = patron_factory(institution, primary_id="ada")
    Patron.objects.filter(pk=patron.pk).update(raw_hash="r" * 64, content_hash="c" * 64)
    response = gsa.get(f"/admin/patrons/patron/{patron.pk}/change/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "ada" in page
    for hidden in ("raw_hash", "content_hash", "pin_hash", "password_hash", "r" * 64, "c" * 64):
        assert hidden not in page
    assert 'name="protection"' not in page
    assert 'name="_save"' not in page
    assert 'name="user_group"' not in page


@pytest.fixture
def superuser(institution) -> Client:
    staff_create(username="root", password=PASSWORD, memberships={}, is_superuser=True)
    client = Client()
    assert client.login(username="root", password=PASSWORD)
    return client


@pytest.mark.parametrize("account", ["gsa", "superuser"])
def test_user_cannot_be_written_through_the_admin(account, request, institution):
    client = request.getfixturevalue(account)
    patron = patron_factory(institution, primary_id="ada")
    page = client.get(f"/admin/patrons/patron/{patron.pk}/change/").content.decode()
    assert 'name="_save"' not in page
    assert "raw_hash" not in page
    before = Patron.objects.values().get(pk=patron.pk)
    changed = client.post(
        f"/admin/patrons/patron/{patron.pk}/change/",
        {"primary_id": "ada", "user_group": "NOSUCHGROUP", "raw_hash": "", "content_hash": ""},
    )
    assert changed.status_code == 403
    assert client.get("/admin/patrons/patron/add/").status_code == 403
    deleted = client.post(f"/admin/patrons/patron/{patron.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 403
    assert Patron.objects.values().get(pk=patron.pk) == before


def test_users_of_another_institution_are_not_listed(
    institution, other_institution, monkeypatch, capsys
):
    patron_factory(institution, primary_id="ours")
    patron_factory(other_institution, primary_id="theirs")
    viewer = signed_in("viewer", {institution: StaffRole.VIEWER})
    listing = viewer.get("/admin/patrons/patron/")
    assert listing.status_code == 200
    assert "ours" in listing.content.decode()
    assert "theirs" not in listing.content.decode()
