"""Alma's governance thresholds per institution: the daily plan and the per-second threshold."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.utils import timezone
from lxml import etree

from patronsync.accounts.services import api_key_create
from patronsync.almaws.errors import AlmaError
from patronsync.almaws.models import ApiDailyUsage, ApiSecondUsage
from patronsync.almaws.thresholds import api_call_count
from patronsync.patrons.models import Patron
from patronsync.patrons.tests.factories import user_json

from .conftest import ApiClient

USERS = "/almaws/v1/users"
ERROR_NS = {"e": "http://com/exlibris/urm/general/xmlbeans"}
PER_SECOND_MESSAGE = "HTTP requests are more than allowed per second"
DAILY_MESSAGE = (
    "Daily API Request Threshold has been reached. "
    "For details see: https://developers.exlibrisgroup.com/alma/apis/#threshold"
)


def error_of(response) -> dict:
    return response.json()["errorList"]["error"][0]


def xml_error_of(response) -> dict:
    root = etree.fromstring(response.content)
    return {
        "errorsExist": root.findtext("e:errorsExist", namespaces=ERROR_NS),
        "errorCode": root.findtext("e:errorList/e:error/e:errorCode", namespaces=ERROR_NS),
        "errorMessage": root.findtext("e:errorList/e:error/e:errorMessage", namespaces=ERROR_NS),
    }


def set_thresholds(institution, **values) -> None:
    for name, value in values.items():
        setattr(institution, name, value)
    institution.save(update_fields=list(values))


@pytest.fixture
def frozen(monkeypatch):
    """All calls of the test fall in one second (10:00:00 UTC on 1 March 2025)."""
    now = dt.datetime(2025, 3, 1, 10, 0, 0, 250_000, tzinfo=dt.UTC)
    monkeypatch.setattr(timezone, "now", lambda: now)
    return now


def test_institution_has_alma_s_common_daily_plan_and_per_second_threshold(institution):
    assert institution.api_daily_threshold == 100_000
    assert institution.api_per_second_threshold == 25


def test_daily_plan_of_zero_is_refused(institution):
    institution.api_daily_threshold = 0

    with pytest.raises(ValidationError) as error:
        institution.full_clean()

    assert "api_daily_threshold" in error.value.message_dict


def test_remaining_counts_down_from_the_institutions_daily_plan(api, institution):
    set_thresholds(institution, api_daily_threshold=5)

    answers = [api.get(USERS) for _ in range(3)]

    assert [r["X-Exl-Api-Remaining"] for r in answers] == ["4", "3", "2"]


def test_errors_after_the_key_is_known_carry_the_daily_remainder_too(api, institution):
    set_thresholds(institution, api_daily_threshold=5)

    response = api.get(f"{USERS}/nobody")

    assert response.status_code == 400
    assert response["X-Exl-Api-Remaining"] == "4"


def test_all_keys_of_an_institution_share_its_daily_plan(api, ro_api, institution):
    set_thresholds(institution, api_daily_threshold=10)

    answers = [api.get(USERS), ro_api.get(USERS), api.get(USERS)]

    assert [r["X-Exl-Api-Remaining"] for r in answers] == ["9", "8", "7"]


def test_each_institution_has_its_own_daily_plan(api, institution, other_institution):
    _, key = api_key_create(institution=other_institution, name="branch", read_only=True)
    api.get(USERS)
    api.get(USERS)

    assert ApiClient(key).get(USERS)["X-Exl-Api-Remaining"] == "99999"


def test_past_the_daily_plan_answers_429_daily_threshold(api, institution):
    set_thresholds(institution, api_daily_threshold=2)

    answers = [api.get(USERS) for _ in range(3)]

    assert [r.status_code for r in answers] == [200, 200, 429]
    refused = answers[2]
    assert error_of(refused)["errorCode"] == "DAILY_THRESHOLD"
    assert error_of(refused)["errorMessage"] == DAILY_MESSAGE
    assert refused.json()["errorsExist"] is True
    assert refused["X-Exl-Api-Remaining"] == "0"
    assert "Retry-After" not in refused  # clients honouring it would sleep until midnight


def test_daily_threshold_error_is_in_alma_xml_when_xml_is_asked_for(api, institution):
    set_thresholds(institution, api_daily_threshold=1)
    api.get(USERS, fmt="xml")

    refused = api.get(USERS, fmt="xml")

    assert refused.status_code == 429
    assert refused["Content-Type"].startswith("application/xml")
    assert xml_error_of(refused) == {
        "errorsExist": "true",
        "errorCode": "DAILY_THRESHOLD",
        "errorMessage": DAILY_MESSAGE,
    }


def test_past_the_daily_plan_a_write_changes_nothing(api, institution):
    set_thresholds(institution, api_daily_threshold=1)
    api.get(USERS)

    refused = api.post(USERS, user_json(primary_id="late"))

    assert refused.status_code == 429
    assert not Patron.objects.filter(primary_id="late").exists()


def test_refused_calls_do_not_use_the_plan_so_a_raised_plan_serves_at_once(api, institution):
    set_thresholds(institution, api_daily_threshold=1)
    api.get(USERS)
    api.get(USERS)
    api.get(USERS)

    set_thresholds(institution, api_daily_threshold=3)
    answer = api.get(USERS)

    assert answer.status_code == 200
    assert answer["X-Exl-Api-Remaining"] == "1"
    assert ApiDailyUsage.objects.get(institution=institution).count == 2


def test_daily_plan_renews_at_midnight_in_the_institutions_time_zone(other_institution):
    set_thresholds(other_institution, api_daily_threshold=1)
    berlin_evening = dt.datetime(2025, 1, 10, 22, 30, tzinfo=dt.UTC)  # 23:30 in Berlin
    before_midnight = dt.datetime(2025, 1, 10, 22, 59, 59, tzinfo=dt.UTC)
    berlin_midnight = dt.datetime(2025, 1, 10, 23, 0, 0, tzinfo=dt.UTC)  # 00:00 on 11 January

    first = api_call_count(institution=other_institution, now=berlin_evening)
    with pytest.raises(AlmaError) as refused:
        api_call_count(institution=other_institution, now=before_midnight)
    next_day = api_call_count(institution=other_institution, now=berlin_midnight)

    assert (first, refused.value.code, next_day) == (0, "DAILY_THRESHOLD", 0)
    assert dict(
        ApiDailyUsage.objects.filter(institution=other_institution).values_list("day", "count")
    ) == {dt.date(2025, 1, 10): 1, dt.date(2025, 1, 11): 1}


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_past_the_per_second_threshold_answers_429_per_second_threshold(
    api, institution, frozen, fmt
):
    set_thresholds(institution, api_per_second_threshold=3)

    answers = [api.get(USERS, fmt=fmt) for _ in range(26)]

    assert [r.status_code for r in answers] == [200] * 3 + [429] * 23
    for refused in answers[3:]:
        error = error_of(refused) if fmt == "json" else xml_error_of(refused)
        assert error["errorCode"] == "PER_SECOND_THRESHOLD"
        assert error["errorMessage"] == PER_SECOND_MESSAGE
        assert refused["Retry-After"] == "1"
        assert refused["X-Exl-Api-Remaining"] == "99997"


def test_calls_refused_per_second_do_not_use_the_daily_plan(api, institution, frozen):
    set_thresholds(institution, api_per_second_threshold=3)

    for _ in range(26):
        api.get(USERS)

    assert ApiDailyUsage.objects.get(institution=institution).count == 3
    assert api.get(USERS)["X-Exl-Api-Remaining"] == "99997"


def test_per_second_threshold_counts_every_key_of_the_institution_together(
    api, ro_api, institution, other_institution, frozen
):
    set_thresholds(institution, api_per_second_threshold=2)
    _, key = api_key_create(institution=other_institution, name="branch", read_only=True)

    answers = [api.get(USERS), ro_api.get(USERS), ro_api.get(USERS)]
    elsewhere = ApiClient(key).get(USERS)

    assert [r.status_code for r in answers] == [200, 200, 429]
    assert elsewhere.status_code == 200


def test_per_second_threshold_refuses_writes_before_they_run(api, institution, frozen):
    set_thresholds(institution, api_per_second_threshold=1)
    api.get(USERS)

    refused = api.post(USERS, user_json(primary_id="burst"))

    assert error_of(refused)["errorCode"] == "PER_SECOND_THRESHOLD"
    assert not Patron.objects.filter(primary_id="burst").exists()


def test_per_second_count_starts_again_in_the_next_second(institution):
    set_thresholds(institution, api_per_second_threshold=1)
    start = dt.datetime(2025, 3, 1, 10, 0, 0, tzinfo=dt.UTC)

    api_call_count(institution=institution, now=start)
    with pytest.raises(AlmaError) as refused:
        api_call_count(institution=institution, now=start + dt.timedelta(milliseconds=999))
    api_call_count(institution=institution, now=start + dt.timedelta(seconds=1))

    assert refused.value.status == 429
    assert refused.value.code == "PER_SECOND_THRESHOLD"


def test_per_second_threshold_of_zero_means_none(api, institution, frozen):
    set_thresholds(institution, api_per_second_threshold=0)

    answers = [api.get(USERS) for _ in range(30)]

    assert {r.status_code for r in answers} == {200}
    assert not ApiSecondUsage.objects.exists()


def test_counters_of_past_seconds_are_deleted(institution):
    start = dt.datetime(2025, 3, 1, 10, 0, 0, tzinfo=dt.UTC)

    for offset in (0, 1, 30, 90):
        api_call_count(institution=institution, now=start + dt.timedelta(seconds=offset))

    seconds = ApiSecondUsage.objects.values_list("second", flat=True)
    assert sorted(s - int(start.timestamp()) for s in seconds) == [30, 90]


def test_counting_without_returning_clause_gives_the_same_answers(institution, monkeypatch):
    monkeypatch.setattr(connection.features, "can_return_columns_from_insert", False)
    set_thresholds(institution, api_daily_threshold=2, api_per_second_threshold=1)
    start = dt.datetime(2025, 3, 1, 10, 0, 0, tzinfo=dt.UTC)

    first = api_call_count(institution=institution, now=start)
    with pytest.raises(AlmaError) as per_second:
        api_call_count(institution=institution, now=start)
    second = api_call_count(institution=institution, now=start + dt.timedelta(seconds=1))
    with pytest.raises(AlmaError) as daily:
        api_call_count(institution=institution, now=start + dt.timedelta(seconds=2))

    assert (first, second) == (1, 0)
    assert (per_second.value.code, daily.value.code) == ("PER_SECOND_THRESHOLD", "DAILY_THRESHOLD")


@pytest.mark.postgres
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite's in-memory test database refuses concurrent writers ('table is locked'); "
    "a file database takes one writer at a time, so one statement cannot lose a count",
)
@pytest.mark.django_db(transaction=True)
def test_concurrent_callers_share_one_exact_count(institution):
    set_thresholds(institution, api_daily_threshold=1_000, api_per_second_threshold=0)
    results: list[int] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def caller() -> None:
        try:
            for _ in range(10):
                left = api_call_count(institution=institution)
                with lock:
                    results.append(left)
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=caller) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert sorted(results) == list(range(960, 1_000))
    assert ApiDailyUsage.objects.get(institution=institution).count == 40
