"""The Users API in Alma's XML: bodies valid against rest_users.xsd, format negotiation, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from patronsync.almaxml import user_to_xml
from patronsync.almaxml.jsonform import user_from_json
from patronsync.patrons.models import Patron
from patronsync.patrons.tests.factories import patron_factory, user_json

USERS = "/almaws/v1/users"
XSD = Path(__file__).resolve().parents[2] / "almaxml" / "xsd" / "rest_users.xsd"
ERROR_NS = "{http://com/exlibris/urm/general/xmlbeans}"


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    return etree.XMLSchema(etree.parse(str(XSD), parser))


def user_xml(**overrides) -> bytes:
    return user_to_xml(user_from_json(user_json(**overrides)))


def test_post_xml_creates_user_and_answers_xml_valid_against_the_xsd(api, schema):
    response = api.post(USERS, user_xml(primary_id="jdoe"), fmt="xml")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/xml")
    root = etree.fromstring(response.content)
    schema.assertValid(root)
    assert root.findtext("primary_id") == "jdoe"
    assert root.get("link") == "http://testserver/almaws/v1/users/jdoe"
    assert Patron.objects.filter(primary_id="jdoe").exists()


def test_get_answers_xml_by_default(api, institution, schema):
    patron_factory(institution, primary_id="jdoe")

    response = api.client.get(f"{USERS}/jdoe", headers={"Authorization": f"apikey {api.key}"})

    assert response["Content-Type"].startswith("application/xml")
    root = etree.fromstring(response.content)
    schema.assertValid(root)
    assert root.find("user_group").get("desc") == "Graduate student"
    assert root.findtext("contact_info/emails/email/email_address").endswith("@example.edu")


def test_format_parameter_wins_over_accept(api, institution):
    patron_factory(institution, primary_id="jdoe")

    as_json = api.get(f"{USERS}/jdoe", fmt="xml", format="json")
    as_xml = api.get(f"{USERS}/jdoe", fmt="json", format="xml")

    assert as_json["Content-Type"] == "application/json"
    assert as_xml["Content-Type"].startswith("application/xml")


def test_xml_body_can_be_answered_in_json(api):
    response = api.send(
        "POST",
        USERS,
        user_xml(primary_id="jdoe"),
        fmt="xml",
        headers={"Accept": "application/json"},
    )

    assert response.json()["primary_id"] == "jdoe"


def test_list_in_xml_is_valid_users_document_with_total(api, institution, schema):
    for n in range(3):
        patron_factory(institution, primary_id=f"u{n}")

    response = api.get(USERS, fmt="xml", limit="2", expand="full")

    root = etree.fromstring(response.content)
    schema.assertValid(root)
    assert root.tag == "users"
    assert root.get("total_record_count") == "3"
    assert len(root.findall("user")) == 2
    assert root.find("user").get("link").startswith("http://testserver/almaws/v1/users/")


def test_brief_list_in_xml_is_valid_too(api, institution, schema):
    patron_factory(institution, primary_id="jdoe")

    schema.assertValid(etree.fromstring(api.get(USERS, fmt="xml").content))


def test_put_xml_updates_user(api, institution, schema):
    patron_factory(institution, primary_id="jdoe")

    response = api.put(f"{USERS}/jdoe", user_xml(primary_id="jdoe", first_name="Janet"), fmt="xml")

    assert response.status_code == 200
    root = etree.fromstring(response.content)
    schema.assertValid(root)
    assert root.findtext("first_name") == "Janet"


def test_delete_answers_204_to_an_xml_client(api, institution):
    patron_factory(institution, primary_id="jdoe")

    response = api.client.delete(
        f"{USERS}/jdoe", headers={"Authorization": f"apikey {api.key}", "Accept": "application/xml"}
    )

    assert response.status_code == 204
    assert not Patron.objects.exists()


def test_error_in_xml_is_a_web_service_result_in_alma_namespace(api):
    response = api.get(f"{USERS}/nobody", fmt="xml")

    assert response.status_code == 400
    root = etree.fromstring(response.content)
    assert root.tag == f"{ERROR_NS}web_service_result"
    assert root.findtext(f"{ERROR_NS}errorsExist") == "true"
    error = root.find(f"{ERROR_NS}errorList/{ERROR_NS}error")
    assert error.findtext(f"{ERROR_NS}errorCode") == "401861"
    assert error.findtext(f"{ERROR_NS}errorMessage") == "User with identifier nobody was not found."
    assert error.findtext(f"{ERROR_NS}trackingId").startswith("E01-")


@pytest.mark.parametrize(
    "body",
    [b"<user><primary_id>x</primary_id>", b"<users/>", b"<!DOCTYPE user [<!ENTITY a 'b'>]><user/>"],
)
def test_post_with_invalid_xml_answers_401676(api, body):
    response = api.post(USERS, body, fmt="xml")

    assert response.status_code == 400
    root = etree.fromstring(response.content)
    assert root.findtext(f"{ERROR_NS}errorList/{ERROR_NS}error/{ERROR_NS}errorCode") == "401676"
    assert "No valid XML was given" in response.content.decode()


def test_post_xml_with_illegal_user_group_answers_401852_in_xml(api):
    response = api.post(USERS, user_xml(user_group={"value": "ASTRONAUT"}), fmt="xml")

    assert response.status_code == 400
    assert b"<errorCode>401852</errorCode>" in response.content
