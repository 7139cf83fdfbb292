"""The JSON form has Alma's shape (SPEC §5.4) and is deterministic."""

from __future__ import annotations

import json
from datetime import date

from patronsync.almaxml import (
    Address,
    Code,
    Count,
    Email,
    Identifier,
    Note,
    Phone,
    Role,
    RoleParameter,
    User,
)
from patronsync.almaxml.jsonform import user_from_json, user_to_json

USER = User(
    primary_id="p1",
    user_group=Code("FACULTY", "Faculty"),
    expiry_date=date(2023, 10, 31),
    loans=Count("3", "https://x/loans"),
    addresses=[Address(line1="1 Main", address_types=[Code("home")], preferred=True)],
    emails=[Email("a@b.edu", email_types=[Code("work")], segment_type="External")],
    phones=[Phone("555", [Code("home")], preferred_sms=True)],
    user_identifiers=[Identifier(Code("BARCODE"), "b1", segment_type="External")],
    user_notes=[Note(Code("CIRCULATION"), "hi", user_viewable=False, popup_note=True)],
    user_roles=[Role(status=Code("ACTIVE"), parameters=[RoleParameter(value=Code("LIB"))])],
)


def test_json_shape_follows_alma() -> None:
    data = user_to_json(USER)
    assert data["user_group"] == {"value": "FACULTY", "desc": "Faculty"}
    assert data["expiry_date"] == "2023-10-31Z"
    assert data["loans"] == {"value": 3, "link": "https://x/loans"}
    assert data["contact_info"]["address"] == [
        {"line1": "1 Main", "address_type": [{"value": "home"}], "preferred": True}
    ]
    assert data["contact_info"]["email"][0]["segment_type"] == "External"
    assert data["contact_info"]["phone"][0] == {
        "phone_number": "555",
        "phone_type": [{"value": "home"}],
        "preferred": False,
        "preferred_sms": True,
    }
    assert data["user_identifier"] == [
        {"id_type": {"value": "BARCODE"}, "value": "b1", "segment_type": "External"}
    ]
    assert data["user_note"][0]["user_viewable"] is False
    assert data["user_role"][0]["parameter"] == [{"value": {"value": "LIB"}}]
    assert "user_block" not in data
    assert "user_identifiers" not in data


def test_json_input_accepts_bare_strings_for_codes_and_plain_dates() -> None:
    user = user_from_json(
        {
            "primary_id": " p1 ",
            "user_group": "GRAD",
            "birth_date": "2001-02-03",
            "contact_info": {"email": [{"email_address": "x@y", "email_type": ["work"]}]},
            "is_researcher": "TRUE",
        }
    )
    assert user.primary_id == "p1"
    assert user.user_group == Code("GRAD")
    assert user.birth_date == date(2001, 2, 3)
    assert user.emails[0].email_types == [Code("work")]
    assert user.is_researcher is True


def test_json_is_deterministic_and_serializable() -> None:
    one = json.dumps(user_to_json(USER))
    two = json.dumps(user_to_json(user_from_json(json.loads(one))))
    assert one == two
