"""The Alma API's bounds on what a client sends: body size, JSON depth, offsets, a key's rate.

Each is answered in Alma's error format with a 4xx, never a 500 or a page of the server's.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from patronsync.accounts.services import api_key_create
from patronsync.almaws import services
from patronsync.almaws.errors import AlmaError
from patronsync.patrons.tests.factories import user_json

from .conftest import ApiClient

USERS = "/almaws/v1/users"


def error_of(response) -> dict:
    return response.json()["errorList"]["error"][0]


def test_body_over_the_limit_answers_413_in_alma_json(api, settings):
    body = b'{"primary_id": "' + b"x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1) + b'"}'

    response = api.post(USERS, body)

    assert response.status_code == 413
    assert error_of(response)["errorCode"] == "REQUEST_TOO_LARGE"
    assert "this server takes at most 2,621,440" in error_of(response)["errorMessage"]


def test_body_over_the_limit_answers_413_in_alma_xml(api, settings):
    body = b"<user>" + b"x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1) + b"</user>"

    response = api.post(USERS, body, fmt="xml")

    assert response.status_code == 413
    assert b"<errorCode>REQUEST_TOO_LARGE</errorCode>" in response.content
    assert response["Content-Type"].startswith("application/xml")


def test_body_of_exactly_the_limit_is_read(api, settings):
    body = json.dumps(user_json(primary_id="jdoe")).encode()
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = len(body)

    response = api.post(USERS, body)

    assert response.status_code == 200
    assert response.json()["primary_id"] == "jdoe"


def test_json_nested_100000_levels_deep_answers_400_no_valid_json(api):
    response = api.post(USERS, b"[" * 100_000 + b"]" * 100_000)

    assert response.status_code == 400
    assert error_of(response)["errorCode"] == "401676"
    assert "nested more than 64 levels" in error_of(response)["errorMessage"]


def test_json_nested_100000_levels_deep_in_a_field_answers_400(api):
    deep = b'{"primary_id": "a", "user_note": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"

    response = api.put(f"{USERS}/a", deep)

    assert response.status_code == 400
    assert "nested more than 64 levels" in error_of(response)["errorMessage"]


@pytest.mark.parametrize("offset", ["100000000000000000000", "2147483648"])
def test_offset_past_the_bound_answers_400_general_error(api, offset):
    response = api.get(USERS, offset=offset)

    assert response.status_code == 400
    assert error_of(response)["errorCode"] == "402119"
    assert "offset must not be greater than 2147483647" in error_of(response)["errorMessage"]


def test_largest_offset_answers_an_empty_page(api):
    response = api.get(USERS, offset="2147483647")

    assert response.status_code == 200
    assert response.json()["user"] == []


def test_limit_of_10_to_the_20_answers_400(api):
    response = api.get(USERS, limit="100000000000000000000")

    assert response.status_code == 400
    assert error_of(response)["errorCode"] == "402119"


@pytest.fixture
def clock(monkeypatch):
    """A settable `timezone.now()`: `clock[0]` is the time the code under test sees."""
    now = [dt.datetime(2025, 3, 1, 10, 0, 0, tzinfo=dt.UTC)]
    monkeypatch.setattr(timezone, "now", lambda: now[0])
    return now


def calls_allowed(key: str, clock: list, times: list[dt.datetime]) -> int:
    """How many of the calls at `times` the key's limits let through."""
    refusals: list[str] = []
    for moment in times:
        clock[0] = moment
        try:
            services.api_call_authorize(key=key, write=False)
        except AlmaError as error:
            refusals.append(error.code)
    assert set(refusals) <= {"PER_THRESHOLD"}
    return len(times) - len(refusals)


def test_a_300_a_minute_key_cannot_make_600_calls_across_a_minute_boundary(institution, clock):
    institution.api_per_second_threshold = 0  # the institution's own threshold out of the way
    institution.save()
    _, key = api_key_create(institution=institution, name="burst", read_only=True)
    boundary = dt.datetime(2025, 3, 1, 10, 1, 0, tzinfo=dt.UTC)
    step = dt.timedelta(seconds=7.6 / 600)
    # The attack: 300 calls in the 3.8 s before a minute boundary, 300 in the 3.8 s after it.
    times = [boundary - step * (300 - i) for i in range(300)]
    times += [boundary + step * i for i in range(300)]

    allowed = calls_allowed(key, clock, times)

    # A full bucket of 300, and 5 tokens a second over the 7.6 s.
    assert 300 <= allowed <= 300 + 38 + 1


def test_a_key_gets_its_rate_back_as_time_passes(institution, clock):
    _, key = api_key_create(
        institution=institution, name="slow", read_only=True, rate_limit_per_minute=6
    )
    start = clock[0]

    burst = calls_allowed(key, clock, [start] * 10)
    later = calls_allowed(key, clock, [start + dt.timedelta(seconds=10)] * 3)
    much_later = calls_allowed(key, clock, [start + dt.timedelta(hours=1)] * 10)

    assert (burst, later, much_later) == (6, 1, 6)  # one token every 10 s; never more than 6


def test_a_call_the_hourly_bucket_refuses_takes_nothing_from_the_minute(institution, clock):
    _, key = api_key_create(
        institution=institution,
        name="hourly",
        read_only=True,
        rate_limit_per_minute=2,
        rate_limit_per_hour=2,
    )
    start = clock[0]

    first = calls_allowed(key, clock, [start] * 3)
    # 40 s later the minute bucket has refilled; the hour bucket has dripped 0.02 of a token.
    second = calls_allowed(key, clock, [start + dt.timedelta(seconds=40)] * 3)

    assert (first, second) == (2, 0)


def test_refused_call_says_when_to_retry(institution, clock):
    _, key = api_key_create(
        institution=institution, name="tiny", read_only=True, rate_limit_per_minute=4
    )
    api = ApiClient(key)
    answers = [api.get(USERS) for _ in range(5)]

    assert [a.status_code for a in answers] == [200, 200, 200, 200, 429]
    assert answers[4]["Retry-After"] == "15"  # 4 a minute: a token every 15 s
    clock[0] += dt.timedelta(seconds=15)
    assert api.get(USERS).status_code == 200
