"""An htmx poll from an expired session: the browser is sent to the login page (HX-Redirect,
back to the page it was on), not the login page swapped into the fragment."""

from __future__ import annotations

import pytest

from patronsync.accounts.choices import StaffRole

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def test_an_htmx_request_of_an_expired_session_redirects_the_browser_to_the_login_page(client):
    response = client.get(
        "/jobs/started/?after=0",
        HTTP_HX_CURRENT_URL="http://testserver/jobs/?tab=history&kind=import",
        **HTMX,
    )

    assert response.status_code == 200
    assert response.content == b""
    assert response["HX-Redirect"] == "/login/?next=/jobs/%3Ftab%3Dhistory%26kind%3Dimport"


def test_without_the_page_s_url_the_login_comes_back_to_the_requested_one(client):
    response = client.get("/jobs/started/?after=0", **HTMX)

    assert response["HX-Redirect"] == "/login/?next=/jobs/started/%3Fafter%3D0"
    assert response.content == b""


def test_another_site_s_page_is_never_the_login_s_next(client):
    response = client.get(
        "/jobs/started/?after=0", HTTP_HX_CURRENT_URL="https://evil.example/phish", **HTMX
    )

    assert response["HX-Redirect"] == "/login/?next=/jobs/started/%3Fafter%3D0"


def test_a_plain_request_still_gets_the_redirect_and_a_signed_in_htmx_one_its_fragment(
    client, staff, institution
):
    plain = client.get("/jobs/started/?after=0")
    assert plain.status_code == 302
    assert plain["Location"] == "/login/?next=/jobs/started/%3Fafter%3D0"
    assert "HX-Redirect" not in plain

    client.force_login(staff(institution, StaffRole.VIEWER))
    signed_in = client.get("/jobs/started/?after=0", HTTP_HX_CURRENT_URL="http://testserver/jobs/",
                           **HTMX)  # fmt: skip
    assert signed_in.status_code == 200
    assert "HX-Redirect" not in signed_in
