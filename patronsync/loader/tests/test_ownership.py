"""Field ownership and sticky protection through whole Synchronize jobs (issue 16, point 3)."""

from __future__ import annotations

import re

import pytest

from patronsync.core.exceptions import ConfigurationError
from patronsync.demo.services import demo_config
from patronsync.jobs.models import JobRecord
from patronsync.jobs.services import profile_run
from patronsync.patrons.models import PatronChange
from patronsync.patrons.selectors import patron_get_by_primary_id
from patronsync.patrons.services import Actor, patron_restore, patron_update
from patronsync.profiles.models import IntegrationProfile
from patronsync.profiles.services import config_apply

from .conftest import GUARD_OFF, make_profile, user_xml, users_doc, write_zip

pytestmark = pytest.mark.django_db

DESK = Actor.api("desk")


def sync(profile):
    return profile_run(profile=profile, kind="synchronize")


def drop_feed(drop, name, *users):
    return write_zip(drop / "synchronize" / name, {"users.xml": users_doc(*users)})


def without(xml: str, *tags: str) -> str:
    """A <user> element with the named elements (and what they hold) taken out."""
    for tag in tags:
        xml = re.sub(rf"<{tag}>.*?</{tag}>", "", xml)
    return xml


def emails(patron):
    return [e["email_address"] for e in patron.segments.get("email", [])]


def user(institution):
    return patron_get_by_primary_id(institution=institution, primary_id="u1")


def test_a_new_user_takes_the_feeds_values_once_then_library_owned_fields_survive(
    institution, drop
):
    profile = make_profile(
        institution,
        drop,
        guard=GUARD_OFF,
        ownership={"last_name": "library", "email": "library", "user_group": "library"},
    )
    drop_feed(drop, "a.zip", user_xml("u1", last="Lovelace", group="GRAD", email="ada@uni.edu"))
    assert sync(profile).created == 1
    patron = user(institution)
    # Created from the feed: the owned fields take its values once.
    assert (patron.last_name, patron.user_group, emails(patron)) == (
        "Lovelace",
        "GRAD",
        ["ada@uni.edu"],
    )
    patron_update(
        patron=patron,
        data={
            "last_name": "King",
            "contact_info": {"email": [{"email_address": "countess@lib.edu", "preferred": True}]},
        },
        actor=DESK,
    )
    drop_feed(
        drop,
        "b.zip",
        user_xml("u1", first="Augusta", last="Byron", group="FACULTY", email="new@uni.edu"),
    )
    job = sync(profile)
    patron.refresh_from_db()
    assert job.updated == 1
    assert patron.first_name == "Augusta"  # SIS-owned: Swap All
    assert (patron.last_name, patron.user_group, emails(patron)) == (
        "King",
        "GRAD",
        ["countess@lib.edu"],
    )
    [record] = JobRecord.objects.filter(job=job, outcome="updated")
    assert set(record.changes) == {"first_name"}
    # A feed whose only difference is in library-owned fields changes nothing.
    drop_feed(
        drop,
        "c.zip",
        user_xml("u1", first="Augusta", last="Other", group="STAFF", email="x@uni.edu"),
    )
    job = sync(profile)
    patron.refresh_from_db()
    assert (job.updated, job.unchanged) == (0, 1)
    assert (patron.last_name, patron.user_group, emails(patron)) == (
        "King",
        "GRAD",
        ["countess@lib.edu"],
    )


def test_a_second_run_of_the_same_feed_changes_nothing(institution, drop):
    profile = make_profile(
        institution,
        drop,
        guard=GUARD_OFF,
        ownership={"last_name": "library", "expiry_date": "preserve_if_empty"},
    )
    drop_feed(drop, "a.zip", user_xml("u1", last="Lovelace"))
    sync(profile)
    patron_update(patron=user(institution), data={"last_name": "King"}, actor=DESK)
    feed = without(user_xml("u1", first="Augusta", last="Byron"), "expiry_date")
    drop_feed(drop, "b.zip", feed)
    assert sync(profile).updated == 1
    history = PatronChange.objects.count()
    for name in ("c.zip", "d.zip"):
        drop_feed(drop, name, feed)  # the same bytes under a new name
        job = sync(profile)
        assert (job.created, job.updated, job.unchanged, job.rejected) == (0, 0, 1, 0)
    assert PatronChange.objects.count() == history
    patron = user(institution)
    assert (patron.first_name, patron.last_name, str(patron.expiry_date)) == (
        "Augusta",
        "King",
        "2030-01-31",
    )


def test_preserve_if_empty_keeps_a_value_the_feed_leaves_out_and_takes_a_new_one(institution, drop):
    profile = make_profile(
        institution,
        drop,
        guard=GUARD_OFF,
        ownership={"expiry_date": "preserve_if_empty", "email": "preserve_if_empty"},
    )
    drop_feed(drop, "a.zip", user_xml("u1", email="ada@uni.edu"))
    sync(profile)
    # Neither an expiry date nor an email: both keep what is there; the last name is SIS-owned.
    drop_feed(drop, "b.zip", without(user_xml("u1", last="Byron"), "expiry_date", "contact_info"))
    sync(profile)
    patron = user(institution)
    assert (str(patron.expiry_date), emails(patron), patron.last_name) == (
        "2030-01-31",
        ["ada@uni.edu"],
        "Byron",
    )
    # New values: taken.
    feed = user_xml("u1", last="Byron", email="new@uni.edu").replace("2030-01-31Z", "2031-06-30Z")
    drop_feed(drop, "c.zip", feed)
    sync(profile)
    patron.refresh_from_db()
    assert (str(patron.expiry_date), emails(patron)) == ("2031-06-30", ["new@uni.edu"])


def test_without_ownership_a_field_the_feed_leaves_out_is_emptied(profile, drop, institution):
    drop_feed(drop, "a.zip", user_xml("u1"))
    sync(profile)
    drop_feed(drop, "b.zip", without(user_xml("u1"), "expiry_date"))
    sync(profile)
    assert user(institution).expiry_date is None  # Swap All, as Alma


def test_sticky_protection_holds_until_restore_even_when_the_sis_repeats_its_value(
    institution, drop
):
    profile = make_profile(institution, drop, guard=GUARD_OFF, protection="sticky")
    drop_feed(drop, "a.zip", user_xml("u1", group="GRAD"))
    sync(profile)
    patron_update(patron=user(institution), data={"user_group": "STAFF"}, actor=DESK)
    drop_feed(drop, "b.zip", user_xml("u1", group="FACULTY"))
    sync(profile)
    # The SIS repeats the value it sent before the edit: Alma's rule would lift the protection.
    drop_feed(drop, "c.zip", user_xml("u1", group="GRAD", last="Byron"))
    sync(profile)
    patron = user(institution)
    assert (patron.user_group, patron.last_name) == ("STAFF", "Byron")
    assert patron.is_manually_changed("user_group")
    # Restore gives the field the SIS's latest value, and it follows the SIS again.
    patron_restore(patron=patron, field="user_group", actor=DESK)
    patron.refresh_from_db()
    assert (patron.user_group, patron.is_manually_changed("user_group")) == ("GRAD", False)
    drop_feed(drop, "d.zip", user_xml("u1", group="FACULTY", last="Byron"))
    sync(profile)
    patron.refresh_from_db()
    assert patron.user_group == "FACULTY"


def test_sticky_restore_takes_the_sis_value_sent_after_the_edit(institution, drop):
    profile = make_profile(institution, drop, guard=GUARD_OFF, protection="sticky")
    drop_feed(drop, "a.zip", user_xml("u1", group="GRAD"))
    sync(profile)
    patron_update(patron=user(institution), data={"user_group": "STAFF"}, actor=DESK)
    drop_feed(drop, "b.zip", user_xml("u1", group="FACULTY"))
    sync(profile)
    patron = user(institution)
    assert patron.user_group == "STAFF"
    patron_restore(patron=patron, field="user_group", actor=DESK)
    patron.refresh_from_db()
    assert patron.user_group == "FACULTY"


def test_almas_rule_lifts_the_protection_when_the_sis_repeats_its_value(profile, drop, institution):
    assert profile.sync_protection == "alma"
    drop_feed(drop, "a.zip", user_xml("u1", group="GRAD"))
    sync(profile)
    patron_update(patron=user(institution), data={"user_group": "STAFF"}, actor=DESK)
    drop_feed(drop, "b.zip", user_xml("u1", group="FACULTY"))
    sync(profile)
    assert user(institution).user_group == "STAFF"
    drop_feed(drop, "c.zip", user_xml("u1", group="GRAD", last="Byron"))
    sync(profile)
    patron = user(institution)
    assert (patron.user_group, patron.is_manually_changed("user_group")) == ("GRAD", False)


def test_a_library_owned_protected_field_is_left_alone_and_not_remembered(institution, drop):
    profile = make_profile(institution, drop, guard=GUARD_OFF, ownership={"user_group": "library"})
    drop_feed(drop, "a.zip", user_xml("u1", group="GRAD"))
    sync(profile)
    drop_feed(drop, "b.zip", user_xml("u1", group="FACULTY"))
    sync(profile)
    patron = user(institution)
    assert patron.user_group == "GRAD"
    assert patron.protection["user_group"] == {"sis": "GRAD"}  # what the SIS sent on create


def test_a_field_given_back_to_the_sis_takes_its_value_from_an_unchanged_feed(institution, drop):
    document = demo_config(drop)
    sync_section = document["profiles"][0]["synchronize"]
    sync_section["ownership"] = {"last_name": "library"}
    config_apply(institution=institution, document=document)
    profile = IntegrationProfile.objects.get(institution=institution, code="SIS")
    drop_feed(drop, "a.zip", user_xml("u1", last="Lovelace"))
    sync(profile)
    patron_update(patron=user(institution), data={"last_name": "King"}, actor=DESK)
    drop_feed(drop, "b.zip", user_xml("u1", last="Lovelace"))
    assert sync(profile).unchanged == 1
    assert user(institution).last_name == "King"
    sync_section["ownership"] = {}
    assert config_apply(institution=institution, document=document)[-1] == "profile SIS: updated"
    drop_feed(drop, "c.zip", user_xml("u1", last="Lovelace"))  # the same bytes once more
    profile.refresh_from_db()
    assert sync(profile).updated == 1
    assert user(institution).last_name == "Lovelace"


@pytest.mark.parametrize(
    ("setting", "place", "words"),
    [
        ({"ownership": {"favourite_colour": "library"}}, "ownership.favourite_colour", "expected"),
        ({"ownership": {"emial": "library"}}, "ownership.emial", "did you mean email?"),
        ({"ownership": {"email": "staff"}}, "ownership.email", "sis, library, preserve_if_empty"),
        ({"ownership": {"user_identifier": "library"}}, "ownership.user_identifier", "SIS"),
        ({"ownership": {"primary_id": "library"}}, "ownership.primary_id", "identifiers"),
        ({"ownership": ["email"]}, "ownership", "expected a mapping"),
        ({"protection": "forever"}, "protection", "alma"),
    ],
)
def test_config_apply_refuses_bad_ownership_and_protection_naming_them(
    institution, drop, setting, place, words
):
    document = demo_config(drop)
    document["profiles"][0]["synchronize"].update(setting)
    with pytest.raises(ConfigurationError) as caught:
        config_apply(institution=institution, document=document)
    message = str(caught.value)
    assert f"profiles[0].synchronize.{place}:" in message
    assert words in message
