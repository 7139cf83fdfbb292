"""The code-table pages: every role reads them, only a General System Administrator changes
them; rows are added, edited, enabled, disabled and deleted with errors beside their fields."""

from __future__ import annotations

import pytest

from patronsync.accounts.choices import StaffRole
from patronsync.core.choices import CodeTableName
from patronsync.core.models import CodeTableEntry
from patronsync.core.services import code_table_entry_declare

pytestmark = pytest.mark.django_db

GSA = StaffRole.GENERAL_SYSTEM_ADMINISTRATOR
READERS = (StaffRole.VIEWER, StaffRole.USER_MANAGER)
LIST = "/config/code-tables/"
GROUPS = "/config/code-tables/UserGroups/"


def row(institution, code, table="UserGroups"):
    return CodeTableEntry.objects.get(institution=institution, table=table, code=code)


def as_role(client, staff, institution, role):
    client.force_login(staff(institution, role))
    return client


def post_urls(institution):
    grad = row(institution, "GRAD")
    return {
        f"{GROUPS}add/": {"code": "VISITOR", "description": "Visitor", "enabled": "on"},
        f"{GROUPS}{grad.pk}/edit/": {"description": "Changed", "position": "1", "enabled": "on"},
        f"{GROUPS}{grad.pk}/toggle/": {},
        f"{GROUPS}{grad.pk}/delete/": {},
    }


def test_the_list_shows_every_code_table_with_its_rows_counted(client, staff, institution):
    code_table_entry_declare(
        institution=institution, table="UserGroups", code="OLD", values={"enabled": False}
    )
    page = as_role(client, staff, institution, StaffRole.VIEWER).get(LIST)
    assert page.status_code == 200
    text = page.content.decode()
    for table in CodeTableName:
        assert f'href="/config/code-tables/{table.value}/"' in text
        assert str(table.label) in text
    groups = CodeTableEntry.objects.filter(institution=institution, table="UserGroups")
    summary = next(s for s in page.context["tables"] if s.table == "UserGroups")
    assert (summary.rows, summary.enabled) == (groups.count(), groups.count() - 1)


@pytest.mark.parametrize("role", READERS)
def test_viewers_and_user_managers_read_a_table_without_its_forms(client, staff, institution, role):
    page = as_role(client, staff, institution, role).get(GROUPS)
    assert page.status_code == 200
    text = page.content.decode()
    assert "GRAD" in text
    assert "FACULTY" in text
    assert "Add a row" not in text
    assert "/toggle/" not in text
    assert "/delete/" not in text
    assert "/edit/" not in text


@pytest.mark.parametrize("role", READERS)
def test_viewers_and_user_managers_may_change_nothing(client, staff, institution, role):
    as_role(client, staff, institution, role)
    before = list(
        CodeTableEntry.objects.filter(institution=institution).values_list(
            "table", "code", "description", "enabled", "position"
        )
    )
    grad = row(institution, "GRAD")
    assert client.get(f"{GROUPS}{grad.pk}/edit/").status_code == 403
    for url, data in post_urls(institution).items():
        assert client.post(url, data).status_code == 403, url
    after = list(
        CodeTableEntry.objects.filter(institution=institution).values_list(
            "table", "code", "description", "enabled", "position"
        )
    )
    assert after == before


def test_anonymous_is_sent_to_the_login_page(client, institution):
    grad = row(institution, "GRAD")
    for url in (LIST, GROUPS, f"{GROUPS}{grad.pk}/edit/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")
    for url, data in post_urls(institution).items():
        response = client.post(url, data)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")
    assert CodeTableEntry.objects.filter(institution=institution, code="VISITOR").count() == 0


def test_staff_of_another_institution_get_404_for_its_rows(
    client, staff, institution, other_institution
):
    as_role(client, staff, other_institution, GSA)
    grad = row(institution, "GRAD")
    assert client.get(f"{GROUPS}{grad.pk}/edit/").status_code == 404
    for url, data in post_urls(institution).items():
        if "/add/" in url:
            continue  # adds to the other institution's own table, tested below
        assert client.post(url, data).status_code == 404, url
    grad.refresh_from_db()
    assert grad.enabled
    assert grad.description != "Changed"
    # What they add goes to their own institution's table, never to this one.
    client.post(f"{GROUPS}add/", {"code": "VISITOR", "description": "Visitor"})
    assert not CodeTableEntry.objects.filter(institution=institution, code="VISITOR").exists()
    assert CodeTableEntry.objects.filter(institution=other_institution, code="VISITOR").exists()


def test_an_unknown_table_is_404(client, staff, institution):
    as_role(client, staff, institution, GSA)
    assert client.get("/config/code-tables/NoSuchTable/").status_code == 404
    assert client.post("/config/code-tables/NoSuchTable/add/", {"code": "X"}).status_code == 404


def test_post_only_actions_refuse_get(client, staff, institution):
    as_role(client, staff, institution, GSA)
    grad = row(institution, "GRAD")
    for url in (f"{GROUPS}add/", f"{GROUPS}{grad.pk}/toggle/", f"{GROUPS}{grad.pk}/delete/"):
        assert client.get(url).status_code == 405, url


def test_administrator_adds_a_row_which_goes_last(client, staff, institution):
    as_role(client, staff, institution, GSA)
    page = client.get(GROUPS).content.decode()
    assert "Add a row" in page
    assert '<label for="id_code">Code' in page
    last = max(
        CodeTableEntry.objects.filter(institution=institution, table="UserGroups").values_list(
            "position", flat=True
        )
    )
    response = client.post(
        f"{GROUPS}add/", {"code": " VISITOR ", "description": "Visitor", "enabled": "on"}
    )
    entry = row(institution, "VISITOR")
    assert response.status_code == 302
    assert response["Location"] == f"{GROUPS}#row-{entry.pk}"
    assert (entry.description, entry.enabled, entry.position) == ("Visitor", True, last + 1)
    page = client.get(response["Location"]).content.decode()
    assert "Code VISITOR added to User groups." in page


def test_a_duplicate_code_is_refused_beside_the_code_field(client, staff, institution):
    as_role(client, staff, institution, GSA)
    response = client.post(f"{GROUPS}add/", {"code": "GRAD", "description": "Again"})
    assert response.status_code == 400
    text = response.content.decode()
    assert 'id="id_code-error"' in text
    assert "Code GRAD is already in the code table UserGroups" in text
    assert 'aria-invalid="true"' in text
    assert 'aria-describedby="id_code-error id_code-help"' in text
    assert CodeTableEntry.objects.filter(institution=institution, code="GRAD").count() == 1
    assert row(institution, "GRAD").description != "Again"


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"code": ""}, "code", "Code: This field is required."),
        ({"code": "   "}, "code", "Code: This field is required."),
        ({"code": "X" * 256}, "code", "Code: Ensure this value has at most 255 characters"),
        ({"code": "X", "description": "d" * 1001}, "description", "Description: Ensure"),
        ({"code": "X", "position": "-1"}, "position", "Position: Ensure this value is greater"),
        ({"code": "X", "position": "first"}, "position", "Position: Enter a whole number."),
    ],
)
def test_bad_input_is_refused_naming_its_field(client, staff, institution, data, field, words):
    as_role(client, staff, institution, GSA)
    before = CodeTableEntry.objects.filter(institution=institution).count()
    response = client.post(f"{GROUPS}add/", data)
    assert response.status_code == 400
    text = response.content.decode()
    assert f'id="id_{field}-error"' in text
    assert words in text
    assert CodeTableEntry.objects.filter(institution=institution).count() == before


def test_a_new_default_unmarks_the_tables_other_default(client, staff, institution):
    as_role(client, staff, institution, GSA)
    code_table_entry_declare(
        institution=institution, table="UserGroups", code="GRAD", values={"default": True}
    )
    client.post(f"{GROUPS}add/", {"code": "VISITOR", "default": "on", "enabled": "on"})
    defaults = CodeTableEntry.objects.filter(
        institution=institution, table="UserGroups", is_default=True
    ).values_list("code", flat=True)
    assert list(defaults) == ["VISITOR"]


def test_administrator_edits_a_row(client, staff, institution):
    as_role(client, staff, institution, GSA)
    grad = row(institution, "GRAD")
    form = client.get(f"{GROUPS}{grad.pk}/edit/")
    assert form.status_code == 200
    assert grad.description in form.content.decode()
    response = client.post(
        f"{GROUPS}{grad.pk}/edit/",
        {"description": "Graduate student", "position": "9", "default": "on", "enabled": "on"},
    )
    assert response.status_code == 302
    grad.refresh_from_db()
    assert (grad.code, grad.description, grad.position, grad.is_default, grad.enabled) == (
        "GRAD",
        "Graduate student",
        9,
        True,
        True,
    )
    assert "Code GRAD saved." in client.get(response["Location"]).content.decode()


def test_an_edit_that_changes_nothing_writes_nothing(client, staff, institution):
    as_role(client, staff, institution, GSA)
    grad = row(institution, "GRAD")
    data = {"description": grad.description, "position": str(grad.position), "enabled": "on"}
    response = client.post(f"{GROUPS}{grad.pk}/edit/", data, follow=True)
    assert "Code GRAD: nothing changed." in response.content.decode()


def test_an_edit_with_a_bad_position_is_refused_beside_it(client, staff, institution):
    as_role(client, staff, institution, GSA)
    grad = row(institution, "GRAD")
    response = client.post(f"{GROUPS}{grad.pk}/edit/", {"description": "x", "position": ""})
    assert response.status_code == 400
    text = response.content.decode()
    assert 'id="id_position-error"' in text
    assert "Position: This field is required." in text
    grad.refresh_from_db()
    assert grad.description != "x"


def test_administrator_disables_and_enables_a_row(client, staff, institution):
    as_role(client, staff, institution, GSA)
    grad = row(institution, "GRAD")
    response = client.post(f"{GROUPS}{grad.pk}/toggle/", follow=True)
    grad.refresh_from_db()
    assert grad.enabled is False
    assert "Code GRAD disabled." in response.content.decode()
    client.post(f"{GROUPS}{grad.pk}/toggle/")
    grad.refresh_from_db()
    assert grad.enabled is True


def test_administrator_deletes_a_row(client, staff, institution):
    as_role(client, staff, institution, GSA)
    grad = row(institution, "GRAD")
    response = client.post(f"{GROUPS}{grad.pk}/delete/", follow=True)
    assert not CodeTableEntry.objects.filter(pk=grad.pk).exists()
    assert "Code GRAD deleted from User groups." in response.content.decode()
    assert client.post(f"{GROUPS}{grad.pk}/delete/").status_code == 404


def test_a_row_is_reached_only_through_its_own_table(client, staff, institution):
    as_role(client, staff, institution, GSA)
    grad = row(institution, "GRAD")
    assert client.post(f"/config/code-tables/CampusList/{grad.pk}/delete/").status_code == 404
    assert CodeTableEntry.objects.filter(pk=grad.pk).exists()
