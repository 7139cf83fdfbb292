"""API keys: where the key may be sent, what it may do, its institution, its rate limit, storage."""

from __future__ import annotations

import datetime as dt

import pytest
from django.apps import apps
from django.test import Client
from django.utils import timezone

from patronsync.accounts.models import ApiKey
from patronsync.accounts.selectors import api_key_get_active
from patronsync.accounts.services import api_key_create, api_key_revoke
from patronsync.cli import main as cli_main
from patronsync.patrons.models import Patron
from patronsync.patrons.tests.factories import patron_factory, user_json

from .conftest import ApiClient

USERS = "/almaws/v1/users"


def error_of(response) -> dict:
    return response.json()["errorList"]["error"][0]


def test_key_is_accepted_as_query_parameter(rw_key, institution):
    patron_factory(institution, primary_id="jdoe")

    response = Client().get(f"{USERS}/jdoe", {"apikey": rw_key[1], "format": "json"})

    assert response.status_code == 200


def test_key_is_accepted_in_authorization_header(rw_key, institution):
    patron_factory(institution, primary_id="jdoe")

    response = Client().get(
        f"{USERS}/jdoe?format=json", headers={"Authorization": f"apikey {rw_key[1]}"}
    )

    assert response.status_code == 200


@pytest.mark.parametrize("headers", [{}, {"Authorization": "apikey wrong"}, {"Authorization": "x"}])
def test_missing_or_unknown_key_answers_401_unauthorized(db, headers):
    response = Client().get(f"{USERS}?format=json", headers=headers)

    assert response.status_code == 401
    assert error_of(response) == {
        "errorCode": "UNAUTHORIZED",
        "errorMessage": "API-key not defined or not configured to allow this API.",
        "trackingId": error_of(response)["trackingId"],
    }


def test_revoked_key_answers_401(rw_key):
    api_key_revoke(api_key=rw_key[0])

    response = ApiClient(rw_key[1]).get(USERS)

    assert response.status_code == 401


def test_read_only_key_reads(ro_api, institution):
    patron_factory(institution, primary_id="jdoe")

    assert ro_api.get(f"{USERS}/jdoe").status_code == 200
    assert ro_api.get(USERS).json()["total_record_count"] == 1


def test_read_only_key_cannot_write(ro_api, institution):
    patron_factory(institution, primary_id="jdoe")

    created = ro_api.post(USERS, user_json(primary_id="new"))
    updated = ro_api.put(f"{USERS}/jdoe", user_json(primary_id="jdoe", first_name="X"))
    deleted = ro_api.delete(f"{USERS}/jdoe")

    for response in (created, updated, deleted):
        assert response.status_code == 401
        assert error_of(response)["errorCode"] == "UNAUTHORIZED"
    assert list(Patron.objects.values_list("primary_id", "first_name")) == [("jdoe", "Ada")]


def test_key_never_sees_another_institutions_users(api, other_institution):
    patron_factory(other_institution, primary_id="elsewhere")

    listed = api.get(USERS, q="primary_id~elsewhere").json()
    fetched = api.get(f"{USERS}/elsewhere")
    deleted = api.delete(f"{USERS}/elsewhere")

    assert listed["total_record_count"] == 0
    assert error_of(fetched)["errorCode"] == "401861"
    assert error_of(deleted)["errorCode"] == "401861"
    assert Patron.objects.filter(primary_id="elsewhere").exists()


def test_key_creates_users_in_its_own_institution(other_institution):
    _, key = api_key_create(institution=other_institution, name="branch", read_only=False)

    ApiClient(key).post(USERS, user_json(primary_id="jdoe"))

    assert Patron.objects.get(primary_id="jdoe").institution == other_institution


def test_key_is_stored_only_as_its_hash(rw_key):
    api_key, key = rw_key

    assert api_key.key_hash != key
    assert len(api_key.key_hash) == 64
    assert key.startswith(api_key.prefix)
    for model in apps.get_models():
        for row in model.objects.values():
            assert key not in str(row), model


def test_last_used_at_is_set_on_use(api, rw_key):
    api.get(USERS)

    assert ApiKey.objects.get(pk=rw_key[0].pk).last_used_at is not None


def test_cli_creates_key_and_prints_it_on_the_last_line(institution, capsys):
    code = cli_main(["apikey", "create", "--name", "reports", "--read-only"])

    key = capsys.readouterr().out.strip().splitlines()[-1]
    assert code == 0
    api_key = api_key_get_active(key=key)
    assert api_key is not None
    assert api_key.name == "reports"
    assert api_key.read_only
    assert api_key.institution == institution


def test_cli_refuses_unknown_institution(institution, capsys):
    code = cli_main(["apikey", "create", "--name", "x", "--read-write", "--institution", "nope"])

    assert code == 1
    assert not ApiKey.objects.exists()


def test_remaining_header_is_the_institutions_daily_remainder_not_the_keys(api, rw_key):
    first = api.get(USERS)
    second = api.get(USERS)

    assert rw_key[0].rate_limit_per_minute == 300
    assert first["X-Exl-Api-Remaining"] == "99999"
    assert second["X-Exl-Api-Remaining"] == "99998"


def test_past_the_keys_limit_answers_429_with_retry_after(institution, monkeypatch):
    now = dt.datetime(2025, 3, 1, 10, 0, 20, tzinfo=dt.UTC)
    monkeypatch.setattr(timezone, "now", lambda: now)
    _, key = api_key_create(
        institution=institution, name="tiny", read_only=True, rate_limit_per_minute=2
    )
    api = ApiClient(key)

    answers = [api.get(USERS) for _ in range(3)]

    assert [r.status_code for r in answers] == [200, 200, 429]
    assert answers[2]["Retry-After"] == "30"  # 2 a minute: the next token drips in 30 s
    assert [r["X-Exl-Api-Remaining"] for r in answers] == ["99999", "99998", "99997"]
    assert error_of(answers[2])["errorCode"] == "PER_THRESHOLD"


def test_key_without_limits_of_its_own_still_carries_the_daily_remainder(institution):
    _, key = api_key_create(
        institution=institution,
        name="free",
        read_only=True,
        rate_limit_per_minute=0,
        rate_limit_per_hour=0,
    )

    response = ApiClient(key).get(USERS)

    assert response.status_code == 200
    assert response["X-Exl-Api-Remaining"] == "99999"


@pytest.mark.parametrize("path", ["/almaws/v1/bibs/99", "/almaws/v1/users/x/y", "/almaws/v1/"])
def test_unknown_path_answers_not_found_gateway_error(path):
    response = Client().get(path, headers={"Accept": "application/json"})

    assert response.status_code == 404
    assert error_of(response)["errorCode"] == "NOT_FOUND"


def test_unsupported_method_answers_not_found_gateway_error(api):
    response = api.client.patch(USERS, headers={"Authorization": f"apikey {api.key}"})

    assert response.status_code == 404
    assert b"NOT_FOUND" in response.content
