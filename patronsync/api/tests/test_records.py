"""A job's records through the API: filters, pages, and the CSV export."""

from __future__ import annotations

import csv
import io

import pytest

from patronsync.jobs.selectors import RECORD_CSV_FIELDS
from patronsync.jobs.services import profile_run
from patronsync.loader.tests.conftest import user_xml, users_doc, write_zip

from .conftest import body_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(profile, drop):
    """A finished synchronize job: three users created, one rejected, over two files."""
    write_zip(
        drop / "synchronize" / "a.zip",
        {"a.xml": users_doc(user_xml("s1"), user_xml("s2"), user_xml(None))},
    )
    write_zip(drop / "synchronize" / "b.zip", {"b.xml": users_doc(user_xml("s3"))})
    return profile_run(profile=profile, kind="synchronize")


def records(api, job, query=""):
    response = api.get(f"/api/v1/jobs/{job.pk}/records{query}")
    assert response.status_code == 200, response.content
    return response.json()


def test_records_are_listed_and_filtered(viewer_api, job):
    everything = records(viewer_api, job)
    assert everything["count"] == 4
    assert {r["outcome"] for r in everything["results"]} == {"created", "rejected"}
    rejected = records(viewer_api, job, "?outcome=rejected")["results"]
    assert len(rejected) == 1
    code = rejected[0]["reason_code"]
    assert records(viewer_api, job, f"?reason_code={code}")["count"] == 1
    assert records(viewer_api, job, "?primary_id=s2")["results"][0]["primary_id"] == "s2"
    assert records(viewer_api, job, "?file=b.zip")["count"] == 1
    assert viewer_api.get(f"/api/v1/jobs/{job.pk}/records?outcome=bogus").status_code == 400


def test_records_are_paginated(viewer_api, job):
    first = records(viewer_api, job, "?page_size=3")
    assert len(first["results"]) == 3
    assert first["next"]
    second = records(viewer_api, job, "?page_size=3&page=2")
    assert len(second["results"]) == 1


def test_records_csv_has_the_columns_of_the_cli_report(viewer_api, job, capsys):
    from argparse import Namespace

    from patronsync.jobs.commands import report

    response = viewer_api.get(f"/api/v1/jobs/{job.pk}/records.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(body_of(response))))
    assert tuple(rows[0]) == RECORD_CSV_FIELDS
    assert len(rows) == 5

    report(Namespace(job_id=str(job.pk), csv=True, json=False))
    cli_rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows == cli_rows


def test_records_csv_honours_the_filters(viewer_api, job):
    response = viewer_api.get(f"/api/v1/jobs/{job.pk}/records.csv?outcome=rejected")
    rows = list(csv.DictReader(io.StringIO(body_of(response))))
    assert [row["outcome"] for row in rows] == ["rejected"]


def test_records_of_another_institutions_job_are_not_found(other_admin_api, job):
    assert other_admin_api.get(f"/api/v1/jobs/{job.pk}/records").status_code == 404
    assert other_admin_api.get(f"/api/v1/jobs/{job.pk}/records.csv").status_code == 404
