"""No page shows another institution's objects: jobs, their records, users, admin rows.

`branch`'s General System Administrator asks for `main`'s objects by id, and names `main` with
`?institution=main`: every object page answers 404, lists show only `branch`'s own rows.
"""

from __future__ import annotations

import pytest
from django.test import Client

from patronsync.accounts.choices import StaffRole
from patronsync.accounts.services import api_key_create, staff_create
from patronsync.core.models import CodeTableEntry
from patronsync.jobs.services import profile_run
from patronsync.loader.tests.conftest import make_profile, user_xml, users_doc, write_zip
from patronsync.patrons.models import Patron

pytestmark = pytest.mark.django_db

PASSWORD = "a long password 1"


@pytest.fixture
def main_job(institution, tmp_path):
    for folder in ("import", "synchronize"):
        (tmp_path / folder).mkdir()
    write_zip(tmp_path / "synchronize" / "a.zip", {"a.xml": users_doc(user_xml("secret-student"))})
    return profile_run(profile=make_profile(institution, tmp_path), kind="synchronize")


@pytest.fixture
def intruder(other_institution) -> Client:
    staff_create(
        username="branch-gsa",
        password=PASSWORD,
        memberships={other_institution: StaffRole.GENERAL_SYSTEM_ADMINISTRATOR},
    )
    client = Client()
    assert client.login(username="branch-gsa", password=PASSWORD)
    return client


@pytest.mark.parametrize("query", ["", "?institution=main"])
def test_object_pages_of_another_institution_answer_404(intruder, main_job, query):
    patron = Patron.objects.get(primary_id="secret-student")
    for url in (
        f"/jobs/{main_job.pk}/",
        f"/jobs/{main_job.pk}/records.csv",
        f"/users/{patron.pk}/",
    ):
        response = intruder.get(url + query)
        assert response.status_code == 404, url
        assert b"secret-student" not in response.content


@pytest.mark.parametrize("query", ["", "?institution=main"])
def test_list_pages_show_nothing_of_another_institution(intruder, main_job, query):
    for url in ("/jobs/", "/"):
        response = intruder.get(url + query)
        assert response.status_code == 200, url
        assert b"secret-student" not in response.content
        assert main_job.process_id.encode() not in response.content


def test_admin_rows_of_another_institution_are_treated_as_missing(intruder, institution):
    """The admin's convention for a row outside its queryset: back to the index, "doesn't
    exist"; the row is neither shown nor changed."""
    api_key, _ = api_key_create(institution=institution, name="main-key", read_only=True)
    row = CodeTableEntry.objects.filter(institution=institution).first()
    assert row is not None
    for url in (
        f"/admin/accounts/apikey/{api_key.pk}/change/",
        f"/admin/core/codetableentry/{row.pk}/change/",
        f"/admin/core/institution/{institution.pk}/change/",
    ):
        response = intruder.get(url)
        assert (response.status_code, response["Location"]) == (302, "/admin/"), url
        page = intruder.get(url, follow=True).content.decode()
        assert "doesn\u2019t exist" in page, url
        assert "main-key" not in page
    changed = intruder.post(
        f"/admin/accounts/apikey/{api_key.pk}/change/", {"name": "k", "scopes": "config:write"}
    )
    assert (changed.status_code, changed["Location"]) == (302, "/admin/")
    api_key.refresh_from_db()
    assert api_key.scopes == "users:read"
