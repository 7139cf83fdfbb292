"""A guarded Synchronize that applies its plan's records alone decides every record as one that
reads its feed again (`jobs.planned`).

Each scenario runs twice, from the same first load, in two institutions: once applying the plan
alone (PATRONSYNC_APPLY_FROM_PLAN on), once reading the feed again (off). Both must give the same
records, line by line, the same counts and the same stored users.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from patronsync.jobs import leavers as job_leavers
from patronsync.jobs import planned as job_planned
from patronsync.jobs.models import JobRecord
from patronsync.jobs.runner import jobs_run_pending
from patronsync.jobs.services import job_approve, profile_run
from patronsync.loader import pipeline
from patronsync.loader.state import KeptUsers
from patronsync.loader.tests.conftest import make_profile, user_xml, users_doc, write_zip
from patronsync.patrons.models import Patron

pytestmark = pytest.mark.django_db

ALONE = "applying its records alone"
READ_AGAIN = "the feed is read again"
WIDE_GUARD = {"max_changes": 10_000, "max_changes_percent": 0, "max_leavers": 10_000}
LEAVERS = {
    "complete_snapshot": True,
    "expire_after_runs": 1,
    "expiry_grace_days": 10,
    "deactivate_after_days": 20,
}


def day1(n: int = 40) -> list[str]:
    return [user_xml(f"u{i}", barcode=f"b{i}") for i in range(n)]


def mixed() -> dict[str, dict[str, list[str]]]:
    """One file, one entry: kept users around every kind of planned record, including records
    whose claims meet a kept user before them and after them in the file."""
    kept = {i: user_xml(f"u{i}", barcode=f"b{i}") for i in range(40)}
    users = [kept[i] for i in range(0, 4)]
    users += [
        user_xml("u10", barcode="b10", last="Byron"),  # updated
        kept[11],
        user_xml("u11", barcode="b11", last="Again"),  # the same user again: a duplicate
        user_xml("u12", barcode="b20"),  # wants the barcode of u20, kept later in the file
        kept[20],
        user_xml("u21", barcode="b1"),  # wants the barcode of u1, kept earlier
        user_xml("n1", barcode="nb1"),  # created
        user_xml("n2", barcode="b3"),  # a new user wanting a kept user's barcode (earlier)
        user_xml("n3", barcode="b30"),  # ... and a later one's
        user_xml("u13", barcode="b13", group="NO_SUCH_GROUP"),  # refused by the code tables
        kept[13],  # after its own refused record: kept
    ]
    users += [kept[i] for i in range(22, 40)]
    return {"day2.zip": {"users.xml": users}}


def files_and_entries() -> dict[str, dict[str, list[str]]]:
    """Two files, the first of two entries; changed users at the edges of batches."""
    kept = {i: user_xml(f"u{i}", barcode=f"b{i}") for i in range(40)}
    return {
        "day2a.zip": {
            "a.xml": [user_xml("u0", barcode="b0", last="First"), *(kept[i] for i in range(1, 10))],
            "b.xml": [*(kept[i] for i in range(10, 19)), user_xml("u19", barcode="b19", last="X")],
        },
        "day2b.zip": {
            # a later file may update a user an earlier one kept
            "users.xml": [user_xml("u5", barcode="b5", last="Later"),
                          *(kept[i] for i in range(20, 40)), user_xml("n9", barcode="nb9")],
        },
    }  # fmt: skip


def leavers() -> dict[str, dict[str, list[str]]]:
    """A complete snapshot missing users u35..u39: the leavers step expires them."""
    users = [user_xml(f"u{i}", barcode=f"b{i}") for i in range(35)]
    users[7] = user_xml("u7", barcode="b7", last="Byron")
    return {"day2.zip": {"users.xml": users}}


SCENARIOS = {"mixed": (mixed, {}), "files": (files_and_entries, {}), "leavers": (leavers, {})}


def _load(institution, folder, name, settings, *, leavers_rule):
    for kind in ("import", "synchronize"):
        (folder / kind).mkdir(parents=True)
    sync = {"guard": WIDE_GUARD}
    if leavers_rule:
        sync["leavers"] = LEAVERS
    profile = make_profile(institution, folder, **sync)
    write_zip(folder / "synchronize" / "day1.zip", {"users.xml": users_doc(*day1())})
    first = profile_run(profile=profile, kind="synchronize")
    assert first.status == "completed", first.log
    for file_name, entries in SCENARIOS[name][0]().items():
        docs = {entry: users_doc(*users) for entry, users in entries.items()}
        write_zip(folder / "synchronize" / file_name, docs)
    return profile


def _outcome(job):
    records = [
        (r.file, r.entry, r.line, r.position, r.primary_id, r.outcome, r.reason_code, r.reason,
         json.dumps(r.changes, sort_keys=True))
        for r in JobRecord.objects.filter(job=job).order_by("id")
    ]  # fmt: skip
    counts = (job.created, job.updated, job.unchanged, job.rejected, job.total_records_processed)
    users = {
        p.primary_id: (p.last_name, p.user_group, p.status, str(p.expiry_date), p.raw_hash,
                       sorted((i.id_type, i.value) for i in p.identifiers.all()))
        for p in Patron.objects.filter(institution=job.institution).prefetch_related("identifiers")
    }  # fmt: skip
    return records, counts, users, [f.get("users") for f in job.files]


@pytest.mark.parametrize("name", SCENARIOS)
@pytest.mark.parametrize("batch_size", [3, 2000])
def test_applying_the_plan_alone_gives_what_reading_the_feed_again_gives(
    name, batch_size, institution, other_institution, tmp_path, settings, monkeypatch
):
    monkeypatch.setattr(pipeline, "BATCH_SIZE", batch_size)
    # the same day in both institutions, whatever their time zones
    monkeypatch.setattr(job_leavers, "leavers_today", lambda institution: dt.date(2026, 3, 2))
    leavers_rule = name == "leavers"
    results = {}
    for alone, inst in ((True, institution), (False, other_institution)):
        profile = _load(inst, tmp_path / str(alone), name, settings, leavers_rule=leavers_rule)
        settings.PATRONSYNC_APPLY_FROM_PLAN = alone
        job = profile_run(profile=profile, kind="synchronize")
        assert job.status in ("completed", "completed_with_errors"), job.log
        assert (ALONE in job.log) is alone
        assert (READ_AGAIN in job.log) is False  # nothing changed since the plan
        assert job.guard["applied"]["as"] == "exact", job.guard["applied"]
        results[alone] = _outcome(job)
    assert results[True] == results[False]
    records, counts, _, _ = results[True]
    assert counts[2] > 0  # some users were kept, and counted unchanged
    assert {r[5] for r in records} >= {"updated"}
    if name == "mixed":
        assert {r[5] for r in records} == {"updated", "created", "rejected"}
        assert len({r[6] for r in records if r[5] == "rejected"}) >= 2
    if leavers_rule:
        assert {r[5] for r in records} >= {"expired"}


def _held(institution, folder):
    """Ten users loaded, then a day-2 feed changing three, held by a guard of one change."""
    for kind in ("import", "synchronize"):
        (folder / kind).mkdir(parents=True)
    profile = make_profile(institution, folder, guard={"max_changes": 1, "max_changes_percent": 0})
    write_zip(folder / "synchronize" / "day1.zip", {"users.xml": users_doc(*day1(10))})
    assert profile_run(profile=profile, kind="synchronize").status == "completed"
    day2 = [user_xml(f"u{i}", barcode=f"b{i}", last="Byron" if i < 3 else "Lovelace")
            for i in range(10)]  # fmt: skip
    write_zip(folder / "synchronize" / "day2.zip", {"users.xml": users_doc(*day2)})
    return folder, profile_run(profile=profile, kind="synchronize")


def test_a_user_written_since_the_plan_makes_the_apply_pass_read_the_feed_again(
    institution, tmp_path, settings
):
    """Held for approval, then a user changed by staff: the snapshot is no longer the plan's,
    so the approved plan is applied by reading the feed again, and re-checked."""
    _, held = _held(institution, tmp_path / "held")
    assert held.status == "held", held.log
    assert held.guard["plan"]["apply_from"]["files"]["day2.zip"]["users"] == 7
    # a kept user's stored bytes change (staff, or another job): its record is no longer known
    Patron.objects.filter(primary_id="u5").update(raw_hash="", content_hash="", last_name="Staff")
    job_approve(job=held, actor="ana")
    [done] = jobs_run_pending()
    assert done.status == "completed", done.log
    assert READ_AGAIN in done.log
    assert ALONE not in done.log
    assert done.guard["applied"]["as"] == "re-checked", (done.log, done.updated, done.unchanged)
    assert done.guard["applied"]["examples"] == [
        {"user": "u5", "planned": "unchanged", "applied": "updated"}
    ]
    assert Patron.objects.get(primary_id="u5").last_name == "Lovelace"
    assert (done.updated, done.unchanged) == (4, 6)


def test_an_approved_plan_applied_alone_writes_what_was_planned(institution, tmp_path):
    folder, held = _held(institution, tmp_path / "approved")
    assert held.status == "held", held.log
    job_approve(job=held, actor="ana")
    [done] = jobs_run_pending()
    assert done.status == "completed", done.log
    assert ALONE in done.log
    assert done.guard["applied"]["as"] == "exact"
    assert (done.updated, done.unchanged, done.total_records_processed) == (3, 7, 10)
    byron = Patron.objects.filter(last_name="Byron").values_list("primary_id", flat=True)
    assert sorted(byron) == ["u0", "u1", "u2"]
    assert not JobRecord.objects.filter(job=done, outcome__startswith="would_").exists()
    assert not (folder / "synchronize" / "day2.zip").exists()  # renamed .handled


def test_kept_users_round_trip_and_are_taken_in_the_files_order():
    kept = KeptUsers()
    for before, patron_id in ((0, 7), (0, 3), (2, 1_000_000), (5, 9)):
        kept.add(before, patron_id)
    again = KeptUsers.load(kept.dump())
    assert len(again) == 4
    assert list(again.take(0)) == [(0, 7), (0, 3)]
    assert list(again.take(1)) == []
    assert list(again.take(4)) == [(2, 1_000_000)]
    assert list(again.take(10)) == [(5, 9)]
    assert KeptUsers.load("").dump() == ""


def test_a_plan_with_users_unchanged_only_after_parsing_them_is_applied_by_reading_the_feed():
    """Such users have their hashes written by an apply pass: the plan cannot stand for them."""
    keeping = job_planned.PlanKeeping()
    keeping.start_file()

    class Raw:
        known_patron, raw = 0, b"<user/>"

    class Out:
        outcome, raw = "unchanged", Raw()

    keeping.note([Out()])
    keeping.end_file("day2.zip", [])

    class Known:
        def digest(self):
            return "d"

    assert keeping.state(Known()) is None


def test_reports_and_the_api_do_not_show_what_the_plan_keeps_for_its_apply_pass(
    institution, tmp_path
):
    from patronsync.api.serializers import JobSerializer
    from patronsync.jobs.selectors import job_report

    _, held = _held(institution, tmp_path / "shown")
    assert "apply_from" in held.guard["plan"]  # kept on the job, for its apply pass
    for shown in (job_report(job=held)["guard"], JobSerializer(held).data["guard"]):
        assert shown["plan"]["counts"]["updates"] == 3
        assert "apply_from" not in shown["plan"]
