"""What the API writes, the next Synchronize respects: protected fields a PUT changed stay.

And the API writes users on the store's one write path: an internal user's segments are
Internal unless the request says otherwise (rest_user.xsd).
"""

from __future__ import annotations

from patronsync.jobs.services import profile_run
from patronsync.loader.tests.conftest import GUARD_OFF, make_profile, user_xml, users_doc, write_zip
from patronsync.patrons.models import Patron
from patronsync.patrons.tests.factories import user_json

USERS = "/almaws/v1/users"


def synchronize(institution, tmp_path, *users):
    for folder in ("import", "synchronize"):
        (tmp_path / folder).mkdir(exist_ok=True)
    profile = make_profile(institution, tmp_path, guard=GUARD_OFF)
    name = f"feed{len(list((tmp_path / 'synchronize').iterdir()))}.zip"
    write_zip(tmp_path / "synchronize" / name, {"users.xml": users_doc(*users)})
    return profile_run(profile=profile, kind="synchronize")


def test_protected_field_a_put_changed_is_kept_by_the_next_synchronize(api, institution, tmp_path):
    assert synchronize(institution, tmp_path, user_xml("jdoe", group="GRAD")).created == 1
    body = api.get(f"{USERS}/jdoe").json()
    body["user_group"] = {"value": "FACULTY"}

    assert api.put(f"{USERS}/jdoe", body).status_code == 200
    assert Patron.objects.get(primary_id="jdoe").is_manually_changed("user_group")

    job = synchronize(institution, tmp_path, user_xml("jdoe", group="UNDERGRAD"))
    assert job.status == "completed"
    assert Patron.objects.get(primary_id="jdoe").user_group == "FACULTY"


def test_put_that_leaves_a_protected_field_as_it_was_does_not_protect_it(
    api, institution, tmp_path
):
    synchronize(institution, tmp_path, user_xml("jdoe", group="GRAD"))
    body = api.get(f"{USERS}/jdoe").json()
    body["first_name"] = "Janet"

    assert api.put(f"{USERS}/jdoe", body).status_code == 200

    synchronize(institution, tmp_path, user_xml("jdoe", group="UNDERGRAD"))
    assert Patron.objects.get(primary_id="jdoe").user_group == "UNDERGRAD"


def test_internal_users_segments_default_to_internal(api, institution):
    body = user_json(primary_id="staff1", account_type={"value": "INTERNAL"}, external_id="")
    for email in body["contact_info"]["email"]:
        email.pop("segment_type", None)
    body["user_identifier"] = [{"id_type": {"value": "BARCODE"}, "value": "S1"}]

    response = api.post(USERS, body)

    assert response.status_code == 200, response.content
    out = response.json()
    assert {e["segment_type"] for e in out["contact_info"]["email"]} == {"Internal"}
    assert {i["segment_type"] for i in out["user_identifier"]} == {"Internal"}


def test_external_users_segments_still_default_to_external(api, institution):
    body = user_json(primary_id="ext1")
    body["user_identifier"] = [{"id_type": {"value": "BARCODE"}, "value": "E1"}]

    out = api.post(USERS, body).json()

    assert {i["segment_type"] for i in out["user_identifier"]} == {"External"}


def test_protected_field_a_put_changed_is_kept_when_the_feed_sends_the_same_bytes_again(
    api, institution, tmp_path
):
    user = user_xml("jdoe", group="GRAD")
    synchronize(institution, tmp_path, user)
    body = api.get(f"{USERS}/jdoe").json()
    body["user_group"] = {"value": "FACULTY"}
    assert api.put(f"{USERS}/jdoe", body).status_code == 200

    job = synchronize(institution, tmp_path, user)  # the nightly feed, as it was

    assert (job.unchanged, job.updated) == (1, 0)
    assert Patron.objects.get(primary_id="jdoe").user_group == "FACULTY"


def test_a_put_that_loses_a_race_for_an_identifier_gets_almas_401851_naming_the_holder(
    api, institution, monkeypatch
):
    """Another client takes the barcode between the PUT's check and its write."""
    from patronsync.patrons import services
    from patronsync.patrons.services import Actor, patron_create

    patron_create(institution=institution, data=user_json(primary_id="jdoe"), actor=Actor.api("x"))
    real_write = services.patrons_write

    def another_client_first(**kwargs):
        monkeypatch.setattr(services, "patrons_write", real_write)
        barcode = [{"id_type": {"value": "BARCODE"}, "value": "RACE1"}]
        patron_create(
            institution=institution,
            data=user_json(primary_id="quick", user_identifier=barcode),
            actor=Actor.api("another client"),
        )
        return real_write(**kwargs)

    body = api.get(f"{USERS}/jdoe").json()
    body["user_identifier"] = [{"id_type": {"value": "BARCODE"}, "value": "RACE1"}]
    monkeypatch.setattr(services, "patrons_write", another_client_first)

    response = api.put(f"{USERS}/jdoe", body)

    assert response.status_code == 400
    error = response.json()["errorList"]["error"][0]
    assert error["errorCode"] == "401851"
    assert "(used by user quick)" in error["errorMessage"]
