"""No institution reaches another's objects through /api/v1/, by key or by staff account.

Every endpoint is tried by `branch` (a key with every scope, and a General System
Administrator) on `main`'s connection, profile and job: each answers 404 (or 400 where the call
names `main` in its body), and nothing of `main` changes.
"""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from patronsync.accounts.choices import ApiScope, StaffRole
from patronsync.accounts.services import api_key_create
from patronsync.connections.models import Connection
from patronsync.core.models import CodeTableEntry
from patronsync.jobs.models import Job
from patronsync.jobs.services import profile_run
from patronsync.loader.tests.conftest import user_xml, users_doc, write_zip
from patronsync.patrons.tests.factories import patron_factory
from patronsync.profiles.models import IntegrationProfile

from .conftest import body_of, key_client, staff_client

pytestmark = pytest.mark.django_db

EVERY_SCOPE = tuple(ApiScope.values)


@pytest.fixture
def main_job(profile, drop):
    """A finished Synchronize of `main`, with one created and one rejected user."""
    write_zip(
        drop / "synchronize" / "a.zip",
        {"a.xml": users_doc(user_xml("secret-student"), user_xml(None))},
    )
    return profile_run(profile=profile, kind="synchronize")


def branch_key_client(other_institution) -> APIClient:
    _, key = api_key_create(institution=other_institution, name="branch", scopes=EVERY_SCOPE)
    return key_client(key)


def branch_admin_client(other_institution) -> APIClient:
    return staff_client("branch-gsa", {other_institution: StaffRole.GENERAL_SYSTEM_ADMINISTRATOR})


CALLERS = {"branch key": branch_key_client, "branch administrator": branch_admin_client}


@pytest.fixture(params=CALLERS)
def intruder(request, other_institution) -> APIClient:
    return CALLERS[request.param](other_institution)


def endpoints(profile, job) -> list[tuple[str, str, dict | None]]:
    """Every route of /api/v1/ that reaches one object of `main`."""
    connection = f"/api/v1/connections/{profile.connection_id}"
    change = {"name": "taken", "transport": "local", "sub_directory": "/"}
    job_url = f"/api/v1/jobs/{job.pk}"
    return [
        ("get", connection, None),
        ("put", connection, change),
        ("patch", connection, {"sub_directory": "/"}),
        ("delete", connection, None),
        ("get", "/api/v1/profiles/SIS", None),
        ("get", "/api/v1/profiles/SIS?institution=main", None),
        ("put", "/api/v1/profiles/SIS", {"code": "SIS", "name": "taken"}),
        ("patch", "/api/v1/profiles/SIS", {"name": "taken"}),
        ("post", "/api/v1/profiles/SIS/run", {"kind": "synchronize"}),
        ("post", "/api/v1/jobs", {"profile": "SIS", "kind": "synchronize"}),
        ("post", "/api/v1/jobs", {"profile": "SIS", "kind": "import", "institution": "main"}),
        ("get", job_url, None),
        ("get", f"{job_url}/records", None),
        ("get", f"{job_url}/records.csv", None),
        ("post", f"{job_url}/cancel", None),
        ("post", f"{job_url}/approve", None),
        ("post", f"{job_url}/reject", None),
    ]


def snapshot() -> list:
    return [
        list(Connection.objects.values().order_by("pk")),
        list(IntegrationProfile.objects.values().order_by("pk")),
        list(Job.objects.values("pk", "status", "log").order_by("pk")),
    ]


@pytest.mark.parametrize("index", range(17))
def test_each_object_endpoint_answers_404_to_another_institution(intruder, main_job, index):
    profile = main_job.profile
    method, url, body = endpoints(profile, main_job)[index]
    before = snapshot()

    response = getattr(intruder, method)(url, body, format="json")

    assert response.status_code == 404, (method, url, response.status_code, body_of(response))
    assert "secret-student" not in body_of(response)
    assert snapshot() == before


def test_lists_show_nothing_of_another_institution(intruder, main_job):
    for url in (
        "/api/v1/connections",
        "/api/v1/connections?institution=main",
        "/api/v1/profiles",
        "/api/v1/profiles?institution=main",
        "/api/v1/jobs",
        "/api/v1/jobs?profile=SIS",
    ):
        response = intruder.get(url)
        assert response.status_code == 200, url
        assert response.json()["count"] == 0, url


def test_objects_cannot_be_created_in_another_institution(intruder, main_job, other_institution):
    before = snapshot()
    connection = {"name": "x", "transport": "sftp", "server": "h", "institution": "main"}
    created = intruder.post("/api/v1/connections", connection, format="json")
    assert created.status_code == 400
    assert "may not configure institution 'main'" in body_of(created)

    profile = {
        "code": "HR",
        "name": "HR",
        "system": "HR",
        "connection": main_job.profile.connection_id,
        "sync_active": True,
        "sync_input_path": "hr",
    }
    made = intruder.post("/api/v1/profiles", profile, format="json")
    assert made.status_code == 400
    assert "connection" in made.json()
    assert snapshot() == before


def test_local_connection_to_another_institutions_folder_is_refused_with_400(
    settings, tmp_path, intruder, institution
):
    main, branch = tmp_path / "main", tmp_path / "branch"
    settings.PATRONSYNC_LOCAL_ROOTS = f"main={main},branch={branch}"
    for folder in (str(main), "/", f"{branch}/../main"):
        response = intruder.post(
            "/api/v1/connections",
            {"name": "drop", "transport": "local", "sub_directory": folder},
            format="json",
        )
        assert response.status_code == 400, folder
        message = " ".join(response.json()["sub_directory"])
        assert "is outside the folders institution branch may use" in message
        assert str(main) not in message.replace(repr(folder), "")  # main's roots are not shown
    assert not Connection.objects.filter(name="drop").exists()


def test_moving_a_connection_out_of_the_roots_is_refused(settings, tmp_path, admin_api, profile):
    settings.PATRONSYNC_LOCAL_ROOTS = f"main={profile.connection.sub_directory}"
    pk = profile.connection_id
    response = admin_api.patch(
        f"/api/v1/connections/{pk}", {"sub_directory": "/etc"}, format="json"
    )
    assert response.status_code == 400
    assert "'/etc' is outside the folders institution main may use" in " ".join(
        response.json()["sub_directory"]
    )
    assert Connection.objects.get(pk=pk).sub_directory != "/etc"


def test_alma_api_key_reads_only_its_own_institutions_users_and_code_tables(
    institution, other_institution
):
    patron_factory(institution, primary_id="secret-student")
    CodeTableEntry.objects.create(
        institution=institution, table="UserGroups", code="MAINONLY", position=99
    )
    _, key = api_key_create(institution=other_institution, name="branch", scopes=EVERY_SCOPE)
    headers = {"Authorization": f"apikey {key}", "Accept": "application/json"}
    client = Client()

    user = client.get("/almaws/v1/users/secret-student", headers=headers)
    listed = client.get("/almaws/v1/users", {"q": "primary_id~secret"}, headers=headers)
    table = client.get("/almaws/v1/conf/code-tables/UserGroups", headers=headers)

    assert user.status_code == 400
    assert user.json()["errorList"]["error"][0]["errorCode"] == "401861"
    assert listed.json()["total_record_count"] == 0
    assert table.status_code == 200
    assert "MAINONLY" not in [row["code"] for row in table.json()["row"]]
