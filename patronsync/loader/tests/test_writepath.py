"""One record never stops a load: every clash is one rejected user, and the rest go on.

And a feed never gets more power than Alma gives it: no roles, no passwords, and the profile's
record type and code on every matched user.
"""

from __future__ import annotations

import pytest

from patronsync.jobs.models import JobRecord
from patronsync.jobs.services import profile_run
from patronsync.loader import writer
from patronsync.patrons.models import Patron, PatronIdentifier
from patronsync.patrons.selectors import patron_get_by_primary_id
from patronsync.patrons.services import Actor, patron_create
from patronsync.patrons.tests.factories import patron_factory, user_json

from .conftest import GUARD_OFF, make_profile, user_xml, users_doc, write_zip

pytestmark = pytest.mark.django_db


def sync(profile):
    return profile_run(profile=profile, kind="synchronize")


def drop_feed(drop, name, *users, folder="synchronize", entry="users.xml"):
    return write_zip(drop / folder / name, {entry: users_doc(*users)})


def rejected(job):
    return {
        r.match_value: (r.reason_code, r.reason)
        for r in JobRecord.objects.filter(job=job, outcome="rejected")
    }


def assert_went_on(job, drop, name, created):
    assert job.status == "completed_with_errors"
    assert job.created == created
    assert (drop / "synchronize" / f"{name}.handled").exists()


def test_new_user_whose_primary_id_is_another_users_barcode_is_rejected_alone(
    profile, drop, institution
):
    patron_factory(institution, primary_id="holder", user_identifier=[
        {"id_type": {"value": "BARCODE"}, "value": "X100"}
    ])  # fmt: skip
    drop_feed(drop, "day1.zip", user_xml("u1"), user_xml("x100"), user_xml("u2"))
    job = sync(profile)
    assert_went_on(job, drop, "day1.zip", created=2)
    code, reason = rejected(job)["x100"]
    assert code == "PRIMARY_ID_TAKEN"
    assert reason == (
        "User with identifier x100 of type primary_id already exists (used by user holder)"
    )
    assert set(Patron.objects.values_list("primary_id", flat=True)) == {"holder", "u1", "u2"}


def test_match_on_univ_id_where_stored_user_lacks_it_rejects_the_new_user_and_names_the_holder(
    institution, drop
):
    profile = make_profile(institution, drop, guard=GUARD_OFF, match_id_type="UNIV_ID")
    patron_factory(institution, primary_id="u1", user_identifier=[])
    drop_feed(drop, "day1.zip", user_xml("u1", univ_id="U-1"), user_xml("u2", univ_id="U-2"))
    job = sync(profile)
    assert_went_on(job, drop, "day1.zip", created=1)
    code, reason = rejected(job)["U-1"]
    assert code == "PRIMARY_ID_TAKEN"
    assert "(used by user u1)" in reason
    assert not PatronIdentifier.objects.filter(value="U-1").exists()


def test_generated_primary_id_never_equals_a_taken_identifier(profile, drop, institution):
    patron_factory(institution, primary_id="holder", user_identifier=[
        {"id_type": {"value": "BARCODE"}, "value": "ada.lovelace"}
    ])  # fmt: skip
    drop_feed(drop, "day1.zip", user_xml(None, first="Ada", last="Lovelace"), folder="import")
    job = profile_run(profile=profile, kind="import")
    assert (job.status, job.created) == ("completed", 1)
    assert Patron.objects.filter(primary_id="ada.lovelace2").exists()


def test_swap_all_renaming_a_user_to_a_taken_primary_id_rejects_that_user_only(institution, drop):
    profile = make_profile(institution, drop, guard=GUARD_OFF, match_id_type="UNIV_ID")
    drop_feed(drop, "day1.zip", user_xml("u1", univ_id="U-1"), user_xml("u2", univ_id="U-2"))
    assert sync(profile).created == 2
    drop_feed(
        drop, "day2.zip", user_xml("u2", univ_id="U-1"), user_xml("u3", univ_id="U-3")
    )  # U-1 (u1) renamed to u2, which U-2 holds
    job = sync(profile)
    assert_went_on(job, drop, "day2.zip", created=1)
    code, reason = rejected(job)["U-1"]
    assert (code, "(used by user u2)" in reason) == ("PRIMARY_ID_TAKEN", True)
    assert patron_get_by_primary_id(institution=institution, primary_id="u1") is not None


def test_user_giving_up_an_identifier_lets_a_later_user_of_the_batch_take_it(profile, drop):
    drop_feed(drop, "day1.zip", user_xml("u1", barcode="B1"), user_xml("u2", barcode="B2"))
    sync(profile)
    drop_feed(drop, "day2.zip", user_xml("u1", barcode="B9"), user_xml("u2", barcode="B1"))
    job = sync(profile)
    assert (job.status, job.updated, job.rejected) == ("completed", 2, 0)
    assert PatronIdentifier.objects.get(value="B1").patron.primary_id == "u2"


def test_a_user_the_database_refuses_is_rejected_and_the_rest_of_the_batch_is_written(
    profile, drop, institution, monkeypatch
):
    """The store's last line of defence: a value taken by another writer after the batch's
    claims were checked (a concurrent API call) is refused by the unique index."""
    real_write = writer.patrons_write

    def concurrent_writer_then_write(**kwargs):
        patron_create(
            institution=institution,
            data=user_json(
                primary_id="racer",
                user_identifier=[{"id_type": {"value": "BARCODE"}, "value": "B2"}],
            ),
            actor=Actor.api("another client"),
        )
        monkeypatch.setattr(writer, "patrons_write", real_write)
        return real_write(**kwargs)

    monkeypatch.setattr(writer, "patrons_write", concurrent_writer_then_write)
    drop_feed(
        drop, "day1.zip", user_xml("u1", barcode="B1"), user_xml("u2", barcode="B2"),
        user_xml("u3", barcode="B3"),
    )  # fmt: skip
    job = sync(profile)
    assert_went_on(job, drop, "day1.zip", created=2)
    code, reason = rejected(job)["u2"]
    assert code == "DATABASE_REFUSED"
    assert reason.startswith("The database refused user u2: ")
    assert set(Patron.objects.values_list("primary_id", flat=True)) == {"racer", "u1", "u3"}
    assert PatronIdentifier.objects.get(value="B2").patron.primary_id == "racer"


ROLES = (
    "<user_roles><user_role><status>ACTIVE</status><scope>MAIN</scope>"
    "<role_type>200</role_type></user_role></user_roles>"
)
PASSWORD = "<password>feed-secret-1</password><force_password_change>true</force_password_change>"


@pytest.mark.parametrize("kind", ["import", "synchronize"])
def test_feed_never_sets_roles_or_passwords_on_create(profile, drop, kind):
    drop_feed(drop, "day1.zip", user_xml("u1", extra=ROLES + PASSWORD), folder=kind)
    job = profile_run(profile=profile, kind=kind)
    assert job.created == 1
    patron = Patron.objects.get(primary_id="u1")
    assert "user_role" not in patron.segments
    assert (patron.password_hash, patron.force_password_change) == ("", "")


def test_feed_carrying_roles_gets_one_warning_in_the_job_log_with_the_count(profile, drop):
    drop_feed(drop, "day1.zip", user_xml("u1", extra=ROLES), user_xml("u2", extra=ROLES),
              user_xml("u3"))  # fmt: skip
    job = sync(profile)
    assert job.status == "completed"
    warnings = [line for line in job.log.splitlines() if "user roles" in line]
    assert len(warnings) == 1
    assert (
        "day1.zip: 2 records carry user roles; roles are not part of the SIS load" in (warnings[0])
    )


def test_feed_never_sets_roles_on_update_and_keeps_the_users_roles(profile, drop, institution):
    role = {"status": {"value": "ACTIVE"}, "scope": {"value": "MAIN"}, "role_type": {"value": "9"}}
    patron_factory(institution, primary_id="u1", user_role=[role], user_identifier=[])
    drop_feed(drop, "day1.zip", user_xml("u1", extra=ROLES + PASSWORD))
    job = sync(profile)
    assert job.updated == 1
    patron = Patron.objects.get(primary_id="u1")
    assert [r["role_type"]["value"] for r in patron.segments["user_role"]] == ["9"]
    assert patron.password_hash == ""


def test_profile_record_type_and_code_reach_users_whose_bytes_did_not_change(profile, drop):
    drop_feed(drop, "day1.zip", user_xml("u1"), user_xml("u2"))
    sync(profile)
    profile.sync_record_type = "STAFF"
    profile.save()
    drop_feed(drop, "day2.zip", user_xml("u1"), user_xml("u2"), entry="again.xml")
    job = sync(profile)
    assert (job.status, job.updated, job.unchanged) == ("completed", 2, 0)
    assert set(Patron.objects.values_list("record_type", flat=True)) == {"STAFF"}
    record = JobRecord.objects.filter(job=job, outcome="updated").first()
    assert record.changes == {"record_type": {"before": "PUBLIC", "after": "STAFF"}}
    drop_feed(drop, "day3.zip", user_xml("u1"), user_xml("u2"), entry="third.xml")
    assert sync(profile).unchanged == 2


@pytest.mark.parametrize("rename_first", [True, False])
def test_primary_id_a_rename_gives_up_goes_to_the_first_record_asking_for_it(
    institution, drop, rename_first
):
    profile = make_profile(institution, drop, guard=GUARD_OFF, match_id_type="UNIV_ID")
    drop_feed(drop, "day1.zip", user_xml("u1", univ_id="U-1"))
    sync(profile)
    rename, newcomer = user_xml("u1new", univ_id="U-1"), user_xml("u1", univ_id="U-2")
    users = (rename, newcomer) if rename_first else (newcomer, rename)
    drop_feed(drop, "day2.zip", *users)
    job = sync(profile)
    if rename_first:  # Alma's order: the rename frees u1, then the new user takes it
        assert (job.status, job.updated, job.created) == ("completed", 1, 1)
        assert set(Patron.objects.values_list("primary_id", flat=True)) == {"u1new", "u1"}
    else:  # the new user asks first, while u1 still holds it
        assert (job.updated, job.created, job.rejected) == (1, 0, 1)
        code, reason = rejected(job)["U-2"]
        assert (code, "(used by user u1)" in reason) == ("PRIMARY_ID_TAKEN", True)
    assert "DATABASE_REFUSED" not in JobRecord.objects.values_list("reason_code", flat=True)


def test_import_record_refused_as_existing_does_not_hold_its_values(profile, drop, institution):
    patron_factory(institution, primary_id="holder", user_identifier=[
        {"id_type": {"value": "BARCODE"}, "value": "TAKEN"}
    ])  # fmt: skip
    drop_feed(drop, "a.zip", user_xml("new1", barcode="TAKEN"), user_xml("new1", barcode="B2"),
              folder="import")  # fmt: skip
    job = profile_run(profile=profile, kind="import")
    assert (job.created, job.rejected) == (1, 1)
    assert JobRecord.objects.get(job=job, outcome="rejected").reason_code == "ALREADY_EXISTS"
    assert PatronIdentifier.objects.get(value="B2").patron.primary_id == "new1"


@pytest.mark.parametrize("kind", ["import", "synchronize"])
def test_every_segment_a_feed_creates_is_external(profile, drop, kind):
    note = (
        '<user_notes><user_note segment_type="Internal"><note_type>CIRCULATION</note_type>'
        "<note_text>From the SIS</note_text></user_note></user_notes>"
    )
    drop_feed(drop, "a.zip", user_xml("u1", extra=note), folder=kind)
    assert profile_run(profile=profile, kind=kind).created == 1
    patron = Patron.objects.get(primary_id="u1")
    assert [n["segment_type"] for n in patron.segments["user_note"]] == ["External"]


def test_many_users_of_one_name_get_distinct_primary_ids_across_batches(profile, drop, monkeypatch):
    from patronsync.loader import pipeline

    monkeypatch.setattr(pipeline, "BATCH_SIZE", 4)
    users = [user_xml(None, first="John", last="Smith", email=f"j{n}@uni.edu") for n in range(10)]
    drop_feed(drop, "a.zip", *users, folder="import")
    job = profile_run(profile=profile, kind="import")
    assert (job.status, job.created) == ("completed", 10)
    ids = set(Patron.objects.values_list("primary_id", flat=True))
    assert len(ids) == 10
    assert "john.smith" in ids
    assert all(i.startswith("john.smith") for i in ids)


def test_zip_entry_name_over_512_characters_does_not_stop_the_job(profile, drop):
    name = "x" * 600 + ".xml"
    write_zip(drop / "synchronize" / "long.zip", {name: users_doc(user_xml("u1"), user_xml(None))})
    job = sync(profile)
    assert (job.status, job.created, job.rejected) == ("completed_with_errors", 1, 1)
    record = JobRecord.objects.get(job=job, outcome="rejected")
    assert record.entry == name[:512]
