"""Profiles own their users: a Synchronize matches only its own profile's users and users with
no external ID; another profile's user is rejected by name, unless the profile takes over users.
"""

from __future__ import annotations

import pytest

from patronsync.jobs.models import JobRecord
from patronsync.jobs.services import job_create, job_run, profile_run
from patronsync.patrons.models import Patron, PatronChange
from patronsync.patrons.tests.factories import patron_factory

from .conftest import GUARD_OFF, make_profile, user_xml, users_doc, write_zip

pytestmark = pytest.mark.django_db


def sync_feed(drop, name, *users):
    return write_zip(drop / "synchronize" / name, {"users.xml": users_doc(*users)})


def rejected(job):
    return {
        r.match_value: (r.reason_code, r.reason)
        for r in JobRecord.objects.filter(job=job, outcome="rejected")
    }


def hr_user(institution, primary_id="u1"):
    """A user that the HR profile loaded: its external ID is HR's code."""
    return patron_factory(institution, primary_id=primary_id, external_id="HR", last_name="Hr")


def test_another_profiles_user_is_rejected_naming_that_profile_and_left_as_it_was(
    profile, drop, institution
):
    theirs = hr_user(institution)
    before = Patron.objects.values().get(pk=theirs.pk)
    sync_feed(drop, "a.zip", user_xml("u1", last="Mine"), user_xml("u2"))
    job = profile_run(profile=profile, kind="synchronize")
    assert (job.status, job.created, job.updated, job.rejected) == (
        "completed_with_errors", 1, 0, 1,
    )  # fmt: skip
    assert rejected(job)["u1"] == (
        "OTHER_PROFILES_USER",
        "User u1 belongs to profile HR (its external ID); profile SIS does not take over other "
        "profiles' users",
    )
    assert Patron.objects.values().get(pk=theirs.pk) == before
    assert not PatronChange.objects.filter(patron=theirs, job_id=job.id).exists()


def test_another_profiles_user_whose_bytes_did_not_change_is_not_relabelled(
    profile, drop, institution
):
    sync_feed(drop, "a.zip", user_xml("u1"))
    profile_run(profile=profile, kind="synchronize")
    # The same bytes, but the user is HR's now (HR took it over).
    Patron.objects.filter(primary_id="u1").update(external_id="HR")
    sync_feed(drop, "b.zip", user_xml("u1"))
    job = profile_run(profile=profile, kind="synchronize")
    assert rejected(job)["u1"][0] == "OTHER_PROFILES_USER"
    assert Patron.objects.get(primary_id="u1").external_id == "HR"


def test_own_users_are_still_matched(profile, drop, institution):
    patron_factory(institution, primary_id="u1", external_id="SIS", last_name="Old")
    sync_feed(drop, "a.zip", user_xml("u1", last="New"))
    job = profile_run(profile=profile, kind="synchronize")
    assert (job.updated, job.rejected) == (1, 0)
    assert Patron.objects.get(primary_id="u1").last_name == "New"


def test_a_profile_that_takes_over_users_makes_another_profiles_user_its_own(institution, drop):
    profile = make_profile(institution, drop, guard=GUARD_OFF, take_over_users=True)
    hr_user(institution)
    sync_feed(drop, "a.zip", user_xml("u1", last="Mine"))
    job = profile_run(profile=profile, kind="synchronize")
    assert (job.updated, job.rejected) == (1, 0)
    user = Patron.objects.get(primary_id="u1")
    assert (user.external_id, user.last_name) == ("SIS", "Mine")


def test_a_job_keeps_the_take_over_setting_it_was_created_with(institution, drop):
    profile = make_profile(institution, drop, guard=GUARD_OFF, take_over_users=True)
    hr_user(institution)
    sync_feed(drop, "a.zip", user_xml("u1", last="Mine"))
    job = job_create(profile=profile, kind="synchronize")
    assert job.parameters["take_over_users"] is True
    profile.sync_take_over_users = False
    profile.save()
    job = job_run(job=job)
    assert (job.updated, job.rejected) == (1, 0)
    assert Patron.objects.get(primary_id="u1").external_id == "SIS"
