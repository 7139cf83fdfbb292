"""The browsable API as staff meet it in a browser: every action answers, none fails with 500."""

from __future__ import annotations

import json

import pytest

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def post_in_browser(client, url: str, body: dict) -> int:
    response = client.post(
        url, data=json.dumps(body), content_type="application/json", HTTP_ACCEPT=BROWSER_ACCEPT
    )
    assert response["Content-Type"].startswith("text/html"), url
    return response.status_code


def test_a_connection_test_sent_as_raw_json_renders_its_result_page(admin_api, profile):
    url = f"/api/v1/connections/{profile.connection_id}/test"
    assert post_in_browser(admin_api, url, {}) == 200


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/v1/profiles/SIS/run", {"kind": "import"}),
        ("/api/v1/jobs", {"profile": "SIS", "kind": "import", "dry_run": True}),
    ],
)
def test_a_run_sent_as_raw_json_answers_accepted_with_the_job(admin_api, profile, url, body):
    assert post_in_browser(admin_api, url, body) == 202


def test_the_browsable_pages_of_the_reads_render(admin_api, profile):
    for url in ("/api/v1/connections", "/api/v1/profiles", "/api/v1/jobs", "/api/v1/jobs/monitor"):
        response = admin_api.get(url, HTTP_ACCEPT=BROWSER_ACCEPT)
        assert response.status_code == 200, url
        assert b"patronsync API" in response.content
