"""Monitor Jobs' History filters: a date outside what the page can search is refused beside
its field (naming it), never a server error, whatever the institution's time zone."""

from __future__ import annotations

import pytest

from patronsync.accounts.choices import StaffRole

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("query", "label"),
    [
        ("date_to=9999-12-31", "Started to"),
        ("date_from=0001-01-01", "Started from"),
        ("date_from=1999-12-31", "Started from"),
    ],
)
@pytest.mark.parametrize("which", ["institution", "other_institution"])  # UTC, Europe/Berlin
def test_a_date_out_of_range_is_an_error_naming_its_field_not_a_server_error(
    client, staff, request, which, query, label
):
    client.force_login(staff(request.getfixturevalue(which), StaffRole.VIEWER))

    response = client.get(f"/jobs/?tab=history&{query}")

    assert response.status_code == 200
    body = response.content.decode()
    assert f"{label}: Enter a date from 2000-01-01 to 9998-12-31." in body
    assert body.count("Enter a date from 2000-01-01 to 9998-12-31.") == 1
    assert f"{label}: {label}:" not in body  # named once
    assert 'aria-invalid="true"' in body


def test_the_range_bounds_themselves_are_searched(client, staff, other_institution):
    client.force_login(staff(other_institution, StaffRole.VIEWER))

    response = client.get("/jobs/?tab=history&date_from=2000-01-01&date_to=9998-12-31")

    assert response.status_code == 200
    assert "Enter a date from" not in response.content.decode()
