"""Synchronize and Import end to end: files in a folder, Alma's semantics, the job report."""

from __future__ import annotations

import pytest

from patronsync.jobs.models import Job, JobRecord, ReceivedFile
from patronsync.jobs.selectors import job_report
from patronsync.jobs.services import SectionNotActive, profile_run
from patronsync.patrons.models import Patron, PatronChange
from patronsync.patrons.selectors import patron_get_by_primary_id
from patronsync.patrons.services import Actor, patron_update
from patronsync.patrons.tests.factories import patron_factory

from .conftest import GUARD_OFF, make_profile, user_xml, users_doc, write_zip

pytestmark = pytest.mark.django_db


def sync(profile, **kwargs):
    return profile_run(profile=profile, kind="synchronize", **kwargs)


def drop_feed(drop, name, *users, folder="synchronize"):
    return write_zip(drop / folder / name, {"users.xml": users_doc(*users)})


def records(job, outcome):
    return list(JobRecord.objects.filter(job=job, outcome=outcome).order_by("position"))


def test_new_users_are_created_and_file_marked_handled(profile, drop, institution):
    drop_feed(drop, "day1.zip", user_xml("u1", barcode="B1"), user_xml("u2", barcode="B2"))
    job = sync(profile)
    assert (job.status, job.created, job.rejected) == ("completed", 2, 0)
    assert (drop / "synchronize" / "day1.zip.handled").exists()
    assert not (drop / "synchronize" / "day1.zip").exists()
    patron = patron_get_by_primary_id(institution=institution, primary_id="U1")
    assert patron.external_id == "SIS"
    assert patron.account_type == "EXTERNAL"
    assert patron.record_type == "PUBLIC"
    assert list(patron.identifiers.values_list("value", flat=True)) == ["u1", "B1"]
    assert ReceivedFile.objects.get(profile=profile).status == "handled"


def test_report_counters_add_up_and_name_the_job(profile, drop):
    drop_feed(drop, "a.zip", user_xml("u1"), user_xml("u1"), user_xml(None, first="", last=""))
    report = job_report(job=sync(profile))
    assert report["title"] == "Users SYNCHRONIZE using profile Student Information System"
    assert report["total_users_processed"] == 3
    assert report["total_users_processed"] == sum(
        report[k] for k in ("created", "updated", "unchanged", "rejected")
    )
    assert report["process_id"].isdigit()
    assert report["files"][0]["name"] == "a.zip"


def test_same_file_dropped_again_is_loaded_again_and_changes_nothing(profile, drop):
    drop_feed(drop, "day1.zip", user_xml("u1"))
    first = sync(profile)
    (drop / "synchronize" / "day1.zip.handled").rename(drop / "synchronize" / "again.zip")
    job = sync(profile)
    assert (job.total_users_processed, job.unchanged, job.created) == (1, 1, 0)
    assert f"same content as day1.zip (job {first.id}" in job.log
    assert (drop / "synchronize" / "again.zip.handled").exists()


def test_second_run_of_same_users_changes_nothing(profile, drop):
    drop_feed(drop, "day1.zip", user_xml("u1"), user_xml("u2"))
    sync(profile)
    history = PatronChange.objects.count()
    drop_feed(drop, "day2.zip", user_xml("u2"), user_xml("u1"))  # other bytes, same users
    job = sync(profile)
    assert (job.unchanged, job.updated, job.created) == (2, 0, 0)
    assert PatronChange.objects.count() == history


def test_reformatted_but_equal_record_is_unchanged(profile, drop):
    drop_feed(drop, "day1.zip", user_xml("u1"))
    sync(profile)
    reformatted = user_xml("u1").replace("<first_name>Ada", "<first_name>  Ada  ")
    drop_feed(drop, "day2.zip", reformatted.replace("<user_group>", '<user_group desc="G">'))
    job = sync(profile)
    assert (job.unchanged, job.updated) == (1, 0)


def test_changed_user_is_updated_with_history_tied_to_job(profile, drop, institution):
    drop_feed(drop, "day1.zip", user_xml("u1", last="Byron"))
    sync(profile)
    drop_feed(drop, "day2.zip", user_xml("u1", last="King"))
    job = sync(profile)
    assert job.updated == 1
    patron = patron_get_by_primary_id(institution=institution, primary_id="u1")
    assert patron.last_name == "King"
    change = PatronChange.objects.get(patron=patron, action="updated")
    assert change.job_id == job.id
    assert change.changes["last_name"] == {"before": "Byron", "after": "King"}
    assert records(job, "updated")[0].changes["last_name"]["after"] == "King"


def test_unmatched_user_is_rejected_when_profile_says_reject(institution, drop):
    profile = make_profile(institution, drop, guard=GUARD_OFF, unmatched="REJECT")
    drop_feed(drop, "a.zip", user_xml("nobody"))
    job = sync(profile)
    assert job.rejected == 1
    assert records(job, "rejected")[0].reason_code == "UNMATCHED"
    assert not Patron.objects.exists()
    assert job.status == "completed_with_errors"


def test_matching_internal_user_is_rejected_as_not_external(profile, drop, institution):
    patron_factory(institution, primary_id="staff1", account_type="INTERNAL", external_id="")
    drop_feed(drop, "a.zip", user_xml("STAFF1"))
    job = sync(profile)
    record = records(job, "rejected")[0]
    assert record.reason == "User is not external"
    assert record.line == 3


def test_duplicate_in_feed_first_wins_later_rejected(profile, drop, institution):
    drop_feed(drop, "a.zip", user_xml("u1", last="First"), user_xml("U1", last="Second"))
    job = sync(profile)
    assert (job.created, job.rejected) == (1, 1)
    reason = records(job, "rejected")[0].reason
    assert "already taken AcrossInstitution in this feed" in reason
    assert patron_get_by_primary_id(institution=institution, primary_id="u1").last_name == "First"


def test_duplicate_identifier_in_feed_is_rejected(profile, drop):
    drop_feed(drop, "a.zip", user_xml("u1", barcode="SAME"), user_xml("u2", barcode="same"))
    job = sync(profile)
    rejected = records(job, "rejected")
    assert [r.primary_id for r in rejected] == ["u2"]
    assert "in this feed" in rejected[0].reason


def test_record_repeating_its_own_value_is_rejected_as_alma_words_it(profile, drop):
    drop_feed(drop, "a.zip", user_xml("u1", barcode="U1"), user_xml("u2", barcode="B2"))
    job = sync(profile)
    [rejected] = records(job, "rejected")
    assert (rejected.primary_id, rejected.reason_code) == ("u1", "DUPLICATE_IN_FEED")
    assert rejected.reason == (
        "Identifier of type BARCODE and value U1 is already taken AcrossInstitution in this feed"
    )
    drop_feed(drop, "b.zip", user_xml("u2", barcode="u2"))  # an update that repeats the ID
    [rejected] = records(sync(profile), "rejected")
    assert (rejected.primary_id, rejected.reason_code) == ("u2", "DUPLICATE_IN_FEED")
    assert Patron.objects.get(primary_id="u2").identifiers.filter(value="B2").exists()


def test_identifier_of_another_user_is_rejected_and_named(profile, drop, institution):
    patron_factory(
        institution, primary_id="owner", user_identifier=[{"id_type": "BARCODE", "value": "X9"}]
    )
    drop_feed(drop, "a.zip", user_xml("u1", barcode="X9"))
    job = sync(profile)
    record = records(job, "rejected")[0]
    assert record.reason_code == "IDENTIFIER_TAKEN"
    assert record.reason == (
        "User with identifier X9 of type BARCODE already exists (used by user owner)"
    )
    assert not Patron.objects.filter(primary_id="u1").exists()


def test_match_on_identifier_type(institution, drop):
    profile = make_profile(institution, drop, guard=GUARD_OFF, match_id_type="UNIV_ID")
    drop_feed(drop, "a.zip", user_xml("u1", univ_id="900"))
    sync(profile)
    drop_feed(drop, "b.zip", user_xml("renamed", univ_id="900", last="New"), user_xml("u2"))
    job = sync(profile)
    assert job.updated == 1
    patron = Patron.objects.get()
    assert (patron.primary_id, patron.last_name) == ("renamed", "New")
    missing = records(job, "rejected")[0]
    assert missing.reason_code == "MATCH_ID_MISSING"
    assert "UNIV_ID" in missing.reason


def test_protected_field_edited_by_staff_survives_synchronize(profile, drop, institution):
    drop_feed(drop, "a.zip", user_xml("u1", group="GRAD", last="A"))
    sync(profile)
    patron = patron_get_by_primary_id(institution=institution, primary_id="u1")
    patron_update(
        patron=patron, data={"user_group": "STAFF", "first_name": "Edited"}, actor=Actor.api("desk")
    )
    drop_feed(drop, "b.zip", user_xml("u1", group="FACULTY", last="A"))
    job = sync(profile)
    patron.refresh_from_db()
    assert job.updated == 1
    assert patron.user_group == "STAFF"  # protected: the library's value stands
    assert patron.first_name == "Ada"  # not protected: Swap All restores the SIS value


@pytest.mark.parametrize("created_by", ["import", "synchronize"])
def test_protected_field_follows_the_sis_again_when_it_repeats_its_value(
    profile, drop, institution, created_by
):
    drop_feed(drop, "a.zip", user_xml("u1", group="GRAD"), folder=created_by)
    assert profile_run(profile=profile, kind=created_by).created == 1
    patron = patron_get_by_primary_id(institution=institution, primary_id="u1")
    patron_update(patron=patron, data={"user_group": "STAFF"}, actor=Actor.api("desk"))
    drop_feed(drop, "b.zip", user_xml("u1", group="FACULTY"))
    sync(profile)
    drop_feed(drop, "c.zip", user_xml("u1", group=""))  # empty: the library's value stands
    sync(profile)
    patron.refresh_from_db()
    assert patron.user_group == "STAFF"
    # The value the SIS sent before the edit (with another name, so that the file is new).
    drop_feed(drop, "d.zip", user_xml("u1", group="GRAD", last="Byron"))
    job = sync(profile)
    patron.refresh_from_db()
    assert (job.updated, patron.user_group) == (1, "GRAD")
    [record] = records(job, "updated")
    assert record.changes["kept_by_staff"] == {"before": ["user_group"], "after": []}
    drop_feed(drop, "e.zip", user_xml("u1", group="FACULTY", last="Byron"))
    sync(profile)
    patron.refresh_from_db()
    assert patron.user_group == "FACULTY"  # it follows the SIS again


def test_internal_segments_survive_synchronize(profile, drop, institution):
    drop_feed(drop, "a.zip", user_xml("u1"))
    sync(profile)
    patron = patron_get_by_primary_id(institution=institution, primary_id="u1")
    note = {
        "note_type": "CIRCULATION",
        "note_text": "Prefers large print",
        "segment_type": "Internal",
    }
    patron_update(patron=patron, data={"user_note": [note]}, actor=Actor.api("desk"))
    drop_feed(drop, "b.zip", user_xml("u1", email="new@uni.edu"))
    sync(profile)
    patron.refresh_from_db()
    assert patron.segments["user_note"][0]["note_text"] == "Prefers large print"
    assert [e["email_address"] for e in patron.segments["email"]] == ["new@uni.edu"]


def test_new_user_without_primary_id_gets_one_from_names(profile, drop):
    drop_feed(drop, "a.zip", user_xml(None, first="José", last="Núñez", barcode="B77"))
    job = sync(profile)
    # Matching on the primary ID needs it in the record:
    assert records(job, "rejected")[0].reason_code == "MATCH_ID_MISSING"
    job = profile_run(profile=profile, kind="import")
    assert job.created == 0  # the import folder is empty
    drop_feed(
        drop, "i.zip", user_xml(None, first="José", last="Núñez", barcode="B78"), folder="import"
    )
    job = profile_run(profile=profile, kind="import")
    assert job.created == 1, job.records.values_list("reason", flat=True)
    assert Patron.objects.get().primary_id == "jose.nunez"


def test_import_rejects_users_that_already_exist(profile, drop, institution):
    patron_factory(
        institution, primary_id="old", user_identifier=[{"id_type": "BARCODE", "value": "OLD-B"}]
    )
    drop_feed(drop, "i.zip", user_xml("new1"), user_xml("other", barcode="OLD-B"), folder="import")
    job = profile_run(profile=profile, kind="import")
    assert (job.created, job.rejected) == (1, 1)
    assert records(job, "rejected")[0].reason_code == "ALREADY_EXISTS"
    assert job.title == "Users IMPORT using Student Information System"


def test_dry_run_writes_nothing_but_the_plan(profile, drop, institution):
    drop_feed(drop, "a.zip", user_xml("u1"))
    sync(profile)
    drop_feed(drop, "b.zip", user_xml("u1", last="Changed"), user_xml("u2"))
    job = sync(profile, dry_run=True)
    assert (job.created, job.updated) == (1, 1)
    outcomes = sorted(JobRecord.objects.filter(job=job).values_list("outcome", flat=True))
    assert outcomes == ["would_create", "would_update"]
    assert records(job, "would_update")[0].changes["last_name"]["after"] == "Changed"
    assert Patron.objects.count() == 1
    assert (
        patron_get_by_primary_id(institution=institution, primary_id="u1").last_name == "Lovelace"
    )
    assert (drop / "synchronize" / "b.zip").exists()
    assert ReceivedFile.objects.count() == 1


def test_broken_entry_is_reported_and_other_entries_still_load(profile, drop):
    write_zip(
        drop / "synchronize" / "mixed.zip",
        {
            "a.xml": users_doc(user_xml("good1")),
            "b.xml": "<users><user><primary_id>x</pri",
            "c.xml": users_doc(user_xml("good2")),
        },
    )
    job = sync(profile)
    assert job.created == 2
    assert job.status == "completed_with_errors"
    [problem] = job.files[0]["problems"]
    assert (problem["entry"], problem["line"]) == ("b.xml", 1)
    assert problem["message"].startswith(
        "Could not parse file mixed.zip (entry b.xml, line 1): not well-formed XML: "
    )


def test_missing_input_folder_fails_the_job_with_a_clear_message(profile, drop):
    (drop / "synchronize").rmdir()
    job = sync(profile)
    assert job.status == "failed"
    assert "does not exist" in job.log


def test_more_than_twenty_zips_are_left_for_the_next_run(profile, drop):
    for n in range(22):
        drop_feed(drop, f"f{n:02d}.zip", user_xml(f"u{n}"))
    job = sync(profile)
    assert job.created == 20
    assert "left for the next run: f20.zip, f21.zip" in job.log
    assert sync(profile).created == 2


def test_a_section_that_is_not_active_does_not_run(institution, drop):
    profile = make_profile(institution, drop, guard=GUARD_OFF, active=False)
    drop_feed(drop, "a.zip", user_xml("u1"))
    with pytest.raises(SectionNotActive, match="Synchronize section of profile SIS is not active"):
        sync(profile)
    assert not Job.objects.exists()
    assert (drop / "synchronize" / "a.zip").exists()


def test_job_is_the_only_active_one_per_profile(profile, drop):
    from patronsync.jobs.services import JobAlreadyRunning, job_create

    job = job_create(profile=profile, kind="synchronize")
    job.start(worker="elsewhere:1")
    job.save()
    with pytest.raises(JobAlreadyRunning, match="skipped"):
        sync(profile)
    assert Job.objects.count() == 1


def test_the_database_itself_refuses_a_second_active_job_of_a_profile(profile, drop):
    """What holds when two processes race past the service's check at the same moment."""
    from django.db import IntegrityError, transaction

    from patronsync.jobs.services import job_create

    first = job_create(profile=profile, kind="synchronize")
    with pytest.raises(IntegrityError), transaction.atomic():
        Job.objects.create(
            institution=first.institution, profile=profile, kind="import", process_id="2"
        )
    first.status = "completed"
    first.save()
    assert (
        Job.objects.create(
            institution=first.institution, profile=profile, kind="import", process_id="3"
        ).status
        == "pending"
    )


def test_imported_user_resent_reformatted_is_unchanged_then_changed_is_updated(profile, drop):
    drop_feed(drop, "i.zip", user_xml("u1"), folder="import")
    assert profile_run(profile=profile, kind="import").created == 1
    reformatted = user_xml("u1").replace("<last_name>", "<last_name> ")
    drop_feed(drop, "s1.zip", reformatted)
    job = sync(profile)
    assert (job.unchanged, job.updated) == (1, 0)
    drop_feed(drop, "s2.zip", user_xml("u1", last="Changed"))
    assert sync(profile).updated == 1


def test_feed_matched_on_an_identifier_sent_again_is_unchanged_until_it_changes(institution, drop):
    profile = make_profile(institution, drop, guard=GUARD_OFF, match_id_type="UNIV_ID")
    users = [user_xml(f"u{n}", univ_id=f"90{n}", barcode=f"B{n}") for n in range(3)]
    drop_feed(drop, "a.zip", *users)
    assert sync(profile).created == 3
    drop_feed(drop, "b.zip", *reversed(users))  # the same users' bytes, in another order
    job = sync(profile)
    assert (job.unchanged, job.updated, job.rejected) == (3, 0, 0)
    users[1] = user_xml("u1", univ_id="901", barcode="B1", last="Changed")
    drop_feed(drop, "c.zip", *users)
    job = sync(profile)
    assert (job.unchanged, job.updated) == (2, 1)
    assert Patron.objects.get(primary_id="u1").last_name == "Changed"


def test_feed_the_parser_must_read_synchronizes_the_same(profile, drop):
    """Comments and a namespaced root take the parser's path, run after run."""

    def feed(*users: str) -> str:
        body = "\n<!-- exported by the SIS -->\n".join(users)
        return f'<users xmlns="urn:sis">\n{body}\n</users>\n'

    users = [user_xml("u1"), user_xml("u2")]
    write_zip(drop / "synchronize" / "a.zip", {"users.xml": feed(*users)})
    assert sync(profile).created == 2
    write_zip(drop / "synchronize" / "b.zip", {"users.xml": feed(users[1], users[0])})
    assert (sync(profile).unchanged, Patron.objects.count()) == (2, 2)
    write_zip(drop / "synchronize" / "c.zip", {"users.xml": feed(user_xml("u1", last="B"))})
    assert sync(profile).updated == 1


def test_report_command_prints_the_summary_and_the_records_as_csv(profile, drop, capsys):
    import csv

    from patronsync.cli import main

    drop_feed(drop, "a.zip", user_xml("u1"), user_xml("u1", last="Again"))
    job = sync(profile)
    capsys.readouterr()
    assert main(["report", job.process_id]) == 0  # by Process ID, as Alma shows it
    summary = capsys.readouterr().out
    assert "Patron Import Results" in summary
    assert "already taken AcrossInstitution in this feed" in summary
    assert main(["report", str(job.id), "--csv"]) == 0
    rows = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    assert [(r["primary_id"], r["outcome"]) for r in rows] == [
        ("u1", "created"),
        ("u1", "rejected"),
    ]
    assert rows[1]["reason_code"] == "DUPLICATE_IN_FEED"
    assert main(["report", "999999"]) == 2
