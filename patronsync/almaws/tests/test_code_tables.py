"""GET /conf/code-tables/{name}: the institution's code tables in Alma's shape."""

from __future__ import annotations

from lxml import etree

from patronsync.core.models import CodeTableEntry

TABLES = "/almaws/v1/conf/code-tables"


def test_code_table_in_json_lists_rows_with_default_and_enabled(api, institution):
    body = api.get(f"{TABLES}/UserGroups").json()

    assert body["name"] == "UserGroups"
    assert body["description"] == "User groups"
    assert {
        "code": "GRAD",
        "description": "Graduate student",
        "default": False,
        "enabled": True,
    } in body["row"]
    assert (
        len(body["row"])
        == CodeTableEntry.objects.filter(institution=institution, table="UserGroups").count()
    )


def test_code_table_in_xml_is_a_code_table_element(api):
    root = etree.fromstring(api.get(f"{TABLES}/UserGroups", fmt="xml").content)

    assert root.tag == "code_table"
    assert root.findtext("name") == "UserGroups"
    codes = [row.findtext("code") for row in root.findall("rows/row")]
    assert "GRAD" in codes
    assert root.find("rows/row").findtext("enabled") in ("true", "false")


def test_code_table_shows_disabled_codes_as_not_enabled(api, institution):
    CodeTableEntry.objects.filter(institution=institution, code="GUEST").update(enabled=False)

    rows = api.get(f"{TABLES}/UserGroups").json()["row"]

    assert next(r for r in rows if r["code"] == "GUEST")["enabled"] is False


def test_unknown_code_table_answers_400(api):
    response = api.get(f"{TABLES}/NoSuchTable")

    assert response.status_code == 400
    assert response.json()["errorList"]["error"][0]["errorCode"] == "402119"
