"""The API's bounds on what a client sends (body size, JSON depth, page numbers), and CSV
exports a spreadsheet cannot run as formulas. Each bound is a 4xx in JSON, never a 500."""

from __future__ import annotations

import csv
import io
from argparse import Namespace

import pytest

from patronsync.jobs.commands import report
from patronsync.jobs.services import profile_run
from patronsync.loader.tests.conftest import user_xml, users_doc, write_zip

from .conftest import body_of

pytestmark = pytest.mark.django_db

CONNECTIONS = "/api/v1/connections"


def test_body_over_the_limit_answers_413_in_json(admin_api, settings):
    body = '{"name": "' + "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE + '"}'

    response = admin_api.post(CONNECTIONS, body, content_type="application/json")

    assert response.status_code == 413
    assert response.json() == {
        "detail": f"The request body is {len(body):,} bytes; this server takes at most 2,621,440."
    }


def test_body_over_the_limit_is_refused_before_the_key_is_even_checked(client):
    response = client.post(
        CONNECTIONS, "x" * 3_000_000, content_type="application/json", HTTP_AUTHORIZATION="x"
    )

    assert response.status_code == 413


def test_json_nested_100000_levels_deep_answers_400(admin_api):
    body = '{"name": "deep", "type": "local", "path": ' + "[" * 100_000 + "]" * 100_000 + "}"

    response = admin_api.post(CONNECTIONS, body, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {
        "detail": "JSON parse error - the JSON is nested more than 64 levels deep"
    }


def test_json_that_is_not_deep_is_parsed_as_before(admin_api):
    body = '{"name": "x", "type": "local", "path": [[["a"]]]}'

    response = admin_api.post(CONNECTIONS, body, content_type="application/json")

    assert response.status_code == 400  # parsed, then refused field by field
    assert "detail" not in response.json()


@pytest.mark.parametrize("page", ["100000000000000000000", "1000001", "0", "-1", "x", "1e3"])
def test_page_number_out_of_bounds_answers_400_naming_page(viewer_api, page):
    response = viewer_api.get(f"/api/v1/jobs?page={page}")

    assert response.status_code == 400
    assert response.json() == {"page": ["A page number is a whole number from 1 to 1,000,000."]}


def test_page_past_the_end_within_bounds_is_still_404(viewer_api):
    assert viewer_api.get("/api/v1/jobs?page=1000000").status_code == 404
    assert viewer_api.get("/api/v1/jobs?page=1").status_code == 200
    assert viewer_api.get("/api/v1/jobs?page=last").status_code == 200


FORMULAS = ["=HYPERLINK(1)", "+SUM(1)", "-2+3", "@cmd"]


@pytest.fixture
def formula_job(profile, drop):
    """A synchronize job whose users' primary IDs are spreadsheet formulas."""
    write_zip(
        drop / "synchronize" / "f.zip",
        {"f.xml": users_doc(*(user_xml(primary_id) for primary_id in FORMULAS))},
    )
    return profile_run(profile=profile, kind="synchronize")


def primary_ids_of(text: str) -> list[str]:
    return sorted(row["primary_id"] for row in csv.DictReader(io.StringIO(text)))


def test_records_csv_prefixes_formulas_with_a_quote(viewer_api, formula_job):
    response = viewer_api.get(f"/api/v1/jobs/{formula_job.pk}/records.csv")

    assert response.status_code == 200
    assert primary_ids_of(body_of(response)) == sorted("'" + value for value in FORMULAS)


def test_report_csv_prefixes_formulas_with_a_quote(formula_job, capsys):
    report(Namespace(job_id=str(formula_job.pk), csv=True, json=False))

    assert primary_ids_of(capsys.readouterr().out) == sorted("'" + value for value in FORMULAS)


def test_records_json_keeps_the_values_as_they_are(viewer_api, formula_job):
    response = viewer_api.get(f"/api/v1/jobs/{formula_job.pk}/records")

    assert sorted(r["primary_id"] for r in response.json()["results"]) == sorted(FORMULAS)
