"""The audit trail: every change names who made it (job + file + entry + line, staff account,
API key), shows on the user's page and in the API, is exported, and is pruned by retention."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from django.urls import reverse
from django.utils import timezone

from patronsync.accounts.choices import StaffRole
from patronsync.accounts.services import api_key_create
from patronsync.almaws.tests.conftest import ApiClient
from patronsync.api.tests.conftest import key_client, staff_client
from patronsync.cli import main
from patronsync.jobs.models import JobRecord
from patronsync.jobs.services import profile_run
from patronsync.jobs.worker import DailyHistoryPrune
from patronsync.loader.tests.conftest import make_profile, user_xml, users_doc, write_zip
from patronsync.patrons.audit import (
    history_export,
    history_filter,
    history_prune,
    history_time_bound,
)
from patronsync.patrons.models import Patron, PatronChange
from patronsync.patrons.services import Actor, patron_delete, patron_update
from patronsync.patrons.tests.factories import patron_factory, user_json
from patronsync.patrons.tests.test_pages import form_data

pytestmark = pytest.mark.django_db

HISTORY = "/api/v1/history"


@pytest.fixture
def feed(institution, tmp_path):
    """Synchronize the quick start's profile over zips of users: returns the job."""
    for folder in ("import", "synchronize"):
        (tmp_path / folder).mkdir()
    profile = make_profile(institution, tmp_path)
    days = iter(range(1, 100))

    def run(*documents):
        entries = {f"part{n}.xml": users_doc(*users) for n, users in enumerate(documents, 1)}
        write_zip(tmp_path / "synchronize" / f"day{next(days)}.zip", entries)
        return profile_run(profile=profile, kind="synchronize")

    return run


@pytest.fixture
def rw_key(institution) -> str:
    return api_key_create(institution=institution, name="scripts", read_only=False)[1]


def at(change, when):
    PatronChange.objects.filter(pk=change.pk).update(created_at=when)


# Who: the job with its file, entry and line ---------------------------------------------------


def test_every_change_of_a_job_names_its_job_file_entry_and_line(feed):
    first = feed([user_xml("u1"), user_xml("u2")], [user_xml("u3")])
    second = feed(
        [user_xml("u1", last="Changed")], [user_xml("u3", last="Changed"), user_xml("u4")]
    )
    for job in (first, second):
        changes = list(PatronChange.objects.filter(job_id=job.pk))
        written = JobRecord.objects.filter(job=job, outcome__in=["created", "updated"])
        assert len(changes) == written.count()
        where = {r.primary_id: (r.file, r.entry, r.line) for r in written}
        for change in changes:
            assert change.actor_kind == "job"
            assert (change.file, change.entry, change.line) == where[change.primary_id]
    u3 = PatronChange.objects.get(job_id=second.pk, primary_id="u3")
    assert (u3.file, u3.entry, u3.action) == ("day2.zip", "part2.xml", "updated")
    assert u3.line > 1
    assert u3.changes["last_name"] == {"before": "Lovelace", "after": "Changed"}
    u4 = PatronChange.objects.get(job_id=second.pk, primary_id="u4")
    assert u4.line > u3.line  # the later <user> of the same document


def test_an_unchanged_user_gets_no_history_row(feed):
    feed([user_xml("u1")])
    job = feed([user_xml("u1")])
    assert job.unchanged == 1
    assert not PatronChange.objects.filter(job_id=job.pk).exists()


# Who: the staff account, on the edit page -----------------------------------------------------


def test_an_edit_on_the_user_page_names_the_staff_account(client, staff, institution):
    patron = patron_factory(institution, primary_id="m-1", last_name="Müller")
    account = staff(institution, StaffRole.USER_MANAGER)
    client.force_login(account)
    edit = reverse("patrons:edit", args=[patron.pk])
    data = form_data(client.get(edit))
    data["job_description"] = "Research assistant"
    assert client.post(edit, data).status_code == 302
    change = PatronChange.objects.get(patron=patron, action="updated")
    assert (change.actor_kind, change.actor_user, change.actor_label) == (
        "staff",
        account,
        account.get_username(),
    )
    assert change.changes["job_description"] == {"before": "", "after": "Research assistant"}
    assert (change.file, change.entry, change.line, change.job_id) == ("", "", None, None)
    history = client.get(reverse("patrons:history", args=[patron.pk])).content.decode()
    assert account.get_username() in history
    assert "Research assistant" in history


# Who: the API key, through the Alma API -------------------------------------------------------


def test_a_put_of_the_alma_api_names_the_api_key(institution):
    patron_factory(institution, primary_id="jdoe")
    _, key = api_key_create(institution=institution, name="registrar-sync", read_only=False)
    response = ApiClient(key).put(
        "/almaws/v1/users/jdoe", user_json(primary_id="jdoe", first_name="Janet")
    )
    assert response.status_code == 200
    change = PatronChange.objects.get(primary_id="jdoe", action="updated")
    assert (change.actor_kind, change.actor_label) == ("api", "API key registrar-sync")
    assert change.changes["first_name"]["after"] == "Janet"


# The user's page ------------------------------------------------------------------------------


def test_the_history_table_links_the_job_and_shows_file_and_line(client, staff, institution, feed):
    feed([user_xml("u1")])
    job = feed([user_xml("u1", last="Changed")])
    change = PatronChange.objects.get(job_id=job.pk)
    patron = Patron.objects.get(primary_id="u1")
    client.force_login(staff(institution, StaffRole.VIEWER))
    for name in ("patrons:detail", "patrons:history"):
        page = client.get(reverse(name, args=[patron.pk])).content.decode()
        assert f'href="{reverse("jobs:detail", args=[job.pk])}"' in page
        assert f"day2.zip:part1.xml:{change.line}" in page


# The API --------------------------------------------------------------------------------------


@pytest.fixture
def trail(institution, other_institution):
    """Changes of two users on three days, and one of another institution."""
    anna = patron_factory(institution, primary_id="anna")
    bert = patron_factory(institution, primary_id="bert")
    other = patron_factory(other_institution, primary_id="anna")
    staff_actor = Actor.api("API key scripts")
    for day, patron in ((1, anna), (2, bert), (3, anna)):
        patron_update(patron=patron, data={"job_description": f"day {day}"}, actor=staff_actor)
        change = PatronChange.objects.filter(patron=patron).order_by("-id").first()
        at(change, dt.datetime(2026, 3, day, 12, tzinfo=dt.UTC))
    patron_update(patron=other, data={"job_description": "x"}, actor=staff_actor)
    return anna, bert


def test_api_lists_the_history_filtered_by_user_and_time(trail, rw_key):
    api = key_client(rw_key)
    everything = api.get(HISTORY).json()
    assert everything["count"] == 3 + 2  # the two creations too; not the other institution's
    anna = api.get(HISTORY, {"user": "ANNA"}).json()["results"]
    updates = [r for r in anna if r["action"] == "updated"]  # newest first
    assert [r["changes"]["job_description"]["after"] for r in updates] == ["day 3", "day 1"]
    assert [r["action"] for r in anna] == ["created", "updated", "updated"]
    assert {r["institution"] for r in anna} == {"main"}
    assert updates[0]["actor"] == {
        "kind": "api",
        "label": "API key scripts",
        "staff_account": "",
        "job_id": None,
    }
    assert updates[0]["source"] is None
    ranged = api.get(HISTORY, {"since": "2026-03-02", "until": "2026-03-02"}).json()
    assert [r["primary_id"] for r in ranged["results"]] == ["bert"]
    bad = api.get(HISTORY, {"since": "yesterday"})
    assert bad.status_code == 400
    assert "since" in bad.json()


def test_api_history_of_a_job_gives_file_entry_and_line(feed, rw_key):
    job = feed([user_xml("u1")])
    rows = key_client(rw_key).get(HISTORY, {"job": job.pk}).json()["results"]
    assert len(rows) == 1
    assert rows[0]["actor"]["kind"] == "job"
    assert rows[0]["actor"]["job_id"] == job.pk
    record = JobRecord.objects.get(job=job)
    assert rows[0]["source"] == {"file": "day1.zip", "entry": "part1.xml", "line": record.line}


def test_api_history_needs_a_caller_and_shows_only_their_institutions(trail, other_institution):
    from rest_framework.test import APIClient

    assert APIClient().get(HISTORY).status_code in (401, 403)
    other = staff_client("branch-viewer", {other_institution: StaffRole.VIEWER})
    rows = other.get(HISTORY).json()["results"]
    assert {r["institution"] for r in rows} == {"branch"}
    assert other.get(HISTORY, {"institution": "main"}).json()["count"] == 0


# Export ---------------------------------------------------------------------------------------


def test_export_csv_of_one_user_one_row_per_field_injection_safe(institution):
    patron = patron_factory(institution, primary_id="anna")
    patron_update(
        patron=patron,
        data={"job_description": "=HYPERLINK(1)", "user_title": "Dr"},
        actor=Actor.api("API key scripts"),
    )
    patron_factory(institution, primary_id="bert")
    out = io.StringIO()
    changes = history_filter(institutions=[institution], primary_id="anna")
    assert history_export(changes=changes, fmt="csv", out=out) == 2  # created, updated
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert {r["primary_id"] for r in rows} == {"anna"}
    updated = {r["field"]: r for r in rows if r["action"] == "updated"}
    assert updated["job_description"]["after"] == "'=HYPERLINK(1)"
    assert updated["user_title"]["before"] == ""
    assert updated["user_title"]["actor"] == "API key scripts"


def test_export_jsonl_of_a_time_range_through_the_command(trail, tmp_path, capsys):
    target = tmp_path / "trail.jsonl"
    code = main(
        [
            "history", "export", "--since", "2026-03-01", "--until", "2026-03-02",
            "--format", "jsonl", "-o", str(target),
        ]
    )  # fmt: skip
    assert code == 0
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert [(r["primary_id"], r["changes"]["job_description"]["after"]) for r in lines] == [
        ("anna", "day 1"),
        ("bert", "day 2"),
    ]
    assert lines[0]["actor"]["label"] == "API key scripts"
    assert lines[0]["changed_at"] == "2026-03-01T12:00:00Z"
    assert "2 changes written" in capsys.readouterr().err


def test_export_command_of_one_user_to_stdout_and_bad_dates(trail, capsys):
    assert main(["history", "export", "--user", "bert"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r["primary_id"] for r in rows} == {"bert"}
    assert main(["history", "export", "--since", "March"]) == 2
    assert "--since: 'March' is not a date" in capsys.readouterr().err


def test_a_users_history_is_found_after_a_rename_and_after_its_deletion(institution):
    patron = patron_factory(institution, primary_id="anna")
    patron_update(patron=patron, data={"primary_id": "anna.b"}, actor=Actor.api("API key k"))
    patron_factory(institution, primary_id="anna")  # another user takes the old primary ID
    renamed = history_filter(institutions=[institution], primary_id="ANNA.B")
    assert [c.action for c in renamed] == ["updated", "created"]
    assert renamed[0].changes["primary_id"] == {"before": "anna", "after": "anna.b"}
    patron_delete(patron=Patron.objects.get(primary_id="anna.b"), actor=Actor.api("API key k"))
    deleted = history_filter(institutions=[institution], primary_id="anna.b")
    # The changes made under that primary ID: its deletion and the rename that gave it.
    assert [c.action for c in deleted] == ["deleted", "updated"]
    assert {c.patron_id for c in deleted} == {None}


def test_dates_are_whole_days_of_the_institutions_zone(other_institution):
    zone = dt.timezone(dt.timedelta(hours=1))
    since = history_time_bound("2026-03-01", tz=zone, end=False, name="since")
    until = history_time_bound("2026-03-01", tz=zone, end=True, name="until")
    assert (since, until) == (
        dt.datetime(2026, 3, 1, tzinfo=zone),
        dt.datetime(2026, 3, 2, tzinfo=zone),
    )


# Retention ------------------------------------------------------------------------------------


def test_prune_removes_changes_older_than_the_retention(institution, settings, capsys):
    patron = patron_factory(institution, primary_id="anna")
    old, new = PatronChange.objects.get(patron=patron), None
    patron_update(patron=patron, data={"user_title": "Dr"}, actor=Actor.api("k"))
    new = PatronChange.objects.get(patron=patron, action="updated")
    at(old, timezone.now() - dt.timedelta(days=400))
    settings.PATRONSYNC_HISTORY_RETENTION_DAYS = 0
    assert history_prune() == 0  # kept forever
    assert main(["history", "prune"]) == 0
    assert "kept forever" in capsys.readouterr().out
    settings.PATRONSYNC_HISTORY_RETENTION_DAYS = 365
    assert main(["history", "prune"]) == 0
    assert "1 change older than 365 days removed" in capsys.readouterr().out
    assert list(PatronChange.objects.all()) == [new]
    at(new, timezone.now() - dt.timedelta(days=40))
    assert history_prune(days=30, institution=institution) == 1
    assert not PatronChange.objects.exists()


def test_the_embedded_worker_prunes_once_a_day(institution, settings):
    patron = patron_factory(institution, primary_id="anna")
    at(PatronChange.objects.get(patron=patron), timezone.now() - dt.timedelta(days=10))
    said = []
    prune = DailyHistoryPrune()
    settings.PATRONSYNC_HISTORY_RETENTION_DAYS = 0
    prune(said.append)
    assert PatronChange.objects.count() == 1
    settings.PATRONSYNC_HISTORY_RETENTION_DAYS = 5
    prune(said.append)
    assert not PatronChange.objects.exists()
    assert said == ["Removed 1 change older than 5 days from the users' history"]
    patron_update(patron=patron, data={"user_title": "Dr"}, actor=Actor.api("k"))
    at(PatronChange.objects.get(), timezone.now() - dt.timedelta(days=10))
    prune(said.append)  # the same day: not again
    assert PatronChange.objects.count() == 1
