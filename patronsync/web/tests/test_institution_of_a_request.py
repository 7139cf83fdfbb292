"""The institution a page works in: the one a form or htmx request names wins over the session
(another tab may have switched it), and a page polled every second writes no session."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from patronsync.accounts.choices import StaffRole
from patronsync.accounts.services import membership_set
from patronsync.core.models import CodeTableEntry


def two_institution_admin(staff, institution, other_institution):
    admin = staff(institution, StaffRole.GENERAL_SYSTEM_ADMINISTRATOR)
    membership_set(
        user=admin, institution=other_institution, role=StaffRole.GENERAL_SYSTEM_ADMINISTRATOR
    )
    return admin


def test_a_form_writes_into_the_institution_it_names_not_the_sessions(
    client, staff, institution, other_institution
):
    client.force_login(two_institution_admin(staff, institution, other_institution))
    client.get("/config/code-tables/?institution=branch")  # another tab switched the session

    response = client.post(
        "/config/code-tables/UserGroups/add/",
        {"institution": "main", "code": "VISITOR", "description": "Visitor", "position": 0},
    )

    assert response.status_code == 302
    row = CodeTableEntry.objects.get(table="UserGroups", code="VISITOR")
    assert row.institution == institution


def test_an_htmx_request_works_in_the_institution_of_its_header(
    client, staff, institution, other_institution
):
    client.force_login(two_institution_admin(staff, institution, other_institution))
    client.get("/?institution=branch")

    page = client.get("/config/code-tables/", HTTP_X_PATRONSYNC_INSTITUTION="main")

    assert page.context["institution"] == institution


def test_a_page_seen_again_in_the_same_institution_writes_no_session(client, staff, institution):
    client.force_login(staff(institution, StaffRole.VIEWER))
    client.get("/jobs/")

    with CaptureQueriesContext(connection) as queries:
        assert client.get("/jobs/").status_code == 200

    assert not [q for q in queries if "django_session" in q["sql"] and "UPDATE" in q["sql"]]


def test_a_form_naming_an_institution_the_account_has_no_role_in_is_refused(
    client, staff, institution, other_institution
):
    client.force_login(staff(institution, StaffRole.GENERAL_SYSTEM_ADMINISTRATOR))

    response = client.post(
        "/config/code-tables/UserGroups/add/",
        {"institution": "branch", "code": "VISITOR", "description": "Visitor", "position": 0},
    )

    # The account sees no `branch`: the request falls back to its own institution, main.
    assert not CodeTableEntry.objects.filter(institution=other_institution, code="VISITOR")
    assert response.status_code in (302, 400)
