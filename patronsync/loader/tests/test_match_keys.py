"""Ordered match keys: a Synchronize tries the profile's match ID types in order, end to end."""

from __future__ import annotations

import pytest

from patronsync.core.exceptions import ConfigurationError
from patronsync.demo.services import demo_config
from patronsync.jobs.models import JobRecord
from patronsync.jobs.services import profile_run
from patronsync.patrons.models import Patron
from patronsync.patrons.selectors import patron_get_by_identifier
from patronsync.profiles.models import IntegrationProfile
from patronsync.profiles.services import config_apply

from .conftest import GUARD_OFF, make_profile, user_xml, users_doc, write_zip

pytestmark = pytest.mark.django_db

ORDERED = ["UNIV_ID", "PRIMARY_ID"]


def keys_profile(institution, drop, **sync):
    """The quick start's profile with these synchronize settings, `match_id_type` left out
    unless given (the first match key is then the Match ID Type)."""
    document = demo_config(drop)
    section = document["profiles"][0]["synchronize"]
    section.pop("match_id_type", None)
    section.update(sync)
    config_apply(institution=institution, document=document)
    return IntegrationProfile.objects.get(institution=institution, code="SIS")


def sync(profile):
    return profile_run(profile=profile, kind="synchronize")


def drop_feed(drop, name, *users):
    return write_zip(drop / "synchronize" / name, {"users.xml": users_doc(*users)})


def rejected(job):
    return list(JobRecord.objects.filter(job=job, outcome="rejected").order_by("position"))


def identifiers(primary_id):
    patron = Patron.objects.get(primary_id=primary_id)
    return {(i.id_type, i.value) for i in patron.identifiers.all()}


@pytest.fixture
def ordered(institution, drop):
    return keys_profile(institution, drop, match_id_types=ORDERED)


def test_config_apply_stores_the_keys_and_the_first_is_the_match_id_type(ordered):
    assert ordered.sync_match_id_types == ORDERED
    assert ordered.sync_match_id_type == "UNIV_ID"


def test_a_later_key_matches_the_user_and_adds_the_missing_identifier(ordered, drop):
    drop_feed(drop, "a.zip", user_xml("u1", last="Old"))  # loaded before the SIS had UNIV_IDs
    assert sync(ordered).created == 1
    drop_feed(drop, "b.zip", user_xml("u1", univ_id="900", last="New"))
    job = sync(ordered)
    assert (job.updated, job.created, job.rejected) == (1, 0, 0)
    patron = Patron.objects.get()
    assert patron.last_name == "New"
    assert ("UNIV_ID", "900") in identifiers("u1")
    # The next run finds the user by the first key, even with another primary ID.
    drop_feed(drop, "c.zip", user_xml("renamed", univ_id="900", last="New"))
    job = sync(ordered)
    assert (job.updated, job.created, job.rejected) == (1, 0, 0)
    record = JobRecord.objects.get(job=job)
    assert record.match_value == "900"
    assert Patron.objects.get().primary_id == "renamed"
    assert patron_get_by_identifier(institution=ordered.institution, id_type="UNIV_ID", value="900")


def test_keys_matching_different_users_is_an_ambiguous_match_applied_to_no_one(ordered, drop):
    drop_feed(drop, "a.zip", user_xml("anna", univ_id="900", last="A"), user_xml("bert", last="B"))
    assert sync(ordered).created == 2
    # UNIV_ID 900 is anna's, primary ID bert is bert's: neither may take the record.
    drop_feed(drop, "b.zip", user_xml("bert", univ_id="900", last="Changed"))
    job = sync(ordered)
    assert (job.updated, job.created, job.rejected) == (0, 0, 1)
    record = rejected(job)[0]
    assert record.reason_code == "AMBIGUOUS_MATCH"
    assert "user anna by UNIV_ID 900" in record.reason
    assert "user bert by PRIMARY_ID bert" in record.reason
    assert set(Patron.objects.values_list("primary_id", "last_name")) == {
        ("anna", "A"),
        ("bert", "B"),
    }
    assert identifiers("bert") == {("primary_id", "bert")}


def test_the_first_key_wins_when_both_keys_match_the_same_user(ordered, drop):
    drop_feed(drop, "a.zip", user_xml("u1", univ_id="900", last="A"))
    sync(ordered)
    drop_feed(drop, "b.zip", user_xml("u1", univ_id="900", last="B"))
    job = sync(ordered)
    assert (job.updated, job.rejected) == (1, 0)
    assert JobRecord.objects.get(job=job).match_value == "900"
    assert Patron.objects.get().last_name == "B"


def test_a_record_no_key_finds_is_added_or_rejected_as_the_profile_says(institution, drop):
    profile = keys_profile(institution, drop, match_id_types=ORDERED, unmatched="REJECT")
    drop_feed(drop, "a.zip", user_xml("u1", univ_id="900"))
    job = sync(profile)
    assert (job.created, job.rejected) == (0, 1)
    assert rejected(job)[0].reason_code == "UNMATCHED"
    assert "UNIV_ID 900" in rejected(job)[0].reason
    profile = keys_profile(institution, drop, match_id_types=ORDERED, unmatched="ADD")
    drop_feed(drop, "b.zip", user_xml("u1", univ_id="900"))
    assert sync(profile).created == 1


def test_many_users_of_one_batch_each_matched_by_its_own_key(ordered, drop):
    old = [user_xml(f"u{n}", last="Old") for n in range(20)]
    drop_feed(drop, "a.zip", *old)
    sync(ordered)
    new = [user_xml(f"u{n}", univ_id=f"9{n:02}", last="New") for n in range(20)]
    drop_feed(drop, "b.zip", *new)
    assert sync(ordered).updated == 20
    drop_feed(drop, "c.zip", *[u.replace("New", "Newer") for u in new])
    job = sync(ordered)
    assert job.updated == 20
    values = set(JobRecord.objects.filter(job=job).values_list("match_value", flat=True))
    assert values == {f"9{n:02}" for n in range(20)}


def test_one_key_listed_is_the_single_key_path(institution, drop):
    profile = keys_profile(institution, drop, match_id_types=["UNIV_ID"])
    assert profile.sync_match_id_type == "UNIV_ID"
    drop_feed(drop, "a.zip", user_xml("u1"))
    job = sync(profile)
    assert rejected(job)[0].reason_code == "MATCH_ID_MISSING"
    assert "match_id_types" not in job.parameters


@pytest.mark.parametrize(
    ("keys", "words"),
    [
        (["UNIV_ID", "NOPE"], "'NOPE' is neither PRIMARY_ID nor an identifier type"),
        (["UNIV_ID", "UNIV_ID"], "UNIV_ID is listed more than once"),
        ("UNIV_ID", "is not a list of match ID types"),
        ([1, 2], "is not a list of match ID types"),
    ],
)
def test_config_apply_refuses_bad_keys_naming_the_setting(institution, drop, keys, words):
    with pytest.raises(ConfigurationError) as info:
        keys_profile(institution, drop, match_id_types=keys)
    assert "profiles[0].synchronize.match_id_types" in str(info.value)
    assert words in str(info.value)


def test_config_apply_refuses_a_match_id_type_other_than_the_first_key(institution, drop):
    with pytest.raises(ConfigurationError) as info:
        keys_profile(institution, drop, match_id_type="PRIMARY_ID", match_id_types=ORDERED)
    assert "profiles[0].synchronize.match_id_types" in str(info.value)
    assert "match_id_type is 'PRIMARY_ID'" in str(info.value)


def test_a_document_without_the_keys_goes_back_to_one_key(ordered, institution, drop):
    profile = make_profile(institution, drop, guard=GUARD_OFF, match_id_type="PRIMARY_ID")
    assert (profile.sync_match_id_types, profile.sync_match_id_type) == ([], "PRIMARY_ID")


def test_the_profile_page_shows_the_keys_in_order(ordered, client, staff, institution):
    from django.urls import reverse

    from patronsync.accounts.choices import StaffRole

    client.force_login(staff(institution, StaffRole.VIEWER))
    page = client.get(reverse("profiles:detail", args=[ordered.pk])).content.decode()
    assert "(UNIV_ID), then Primary Identifier" in page


def test_the_api_takes_and_refuses_keys_naming_the_field(ordered, institution):
    from rest_framework.test import APIClient

    from patronsync.accounts.choices import StaffRole
    from patronsync.api.tests.conftest import staff_client

    api: APIClient = staff_client("gsa", {institution: StaffRole.GENERAL_SYSTEM_ADMINISTRATOR})
    url = f"/api/v1/profiles/{ordered.code}"
    assert api.get(url).json()["sync_match_id_types"] == ORDERED
    bad = api.patch(url, {"sync_match_id_types": ["UNIV_ID", "SHOE"]}, format="json")
    assert bad.status_code == 400
    assert "'SHOE' is neither PRIMARY_ID" in str(bad.json()["sync_match_id_types"])
    good = api.patch(
        url,
        {"sync_match_id_types": ["PRIMARY_ID", "UNIV_ID"], "sync_match_id_type": "PRIMARY_ID"},
        format="json",
    )
    assert good.status_code == 200, good.json()
    ordered.refresh_from_db()
    assert ordered.sync_match_id_types == ["PRIMARY_ID", "UNIV_ID"]
