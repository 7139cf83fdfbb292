"""Builders of users' Alma JSON forms for tests."""

from __future__ import annotations

import itertools
from typing import Any

_counter = itertools.count(1)


def user_json(**overrides: Any) -> dict[str, Any]:
    """A valid external user's JSON form; every key can be overridden."""
    n = next(_counter)
    data: dict[str, Any] = {
        "primary_id": f"user{n:06d}",
        "first_name": "Ada",
        "last_name": f"Lovelace{n}",
        "user_group": {"value": "GRAD", "desc": "Graduate student"},
        "external_id": "SIS",
        "expiry_date": "2030-01-31Z",
        "contact_info": {
            "address": [
                {
                    "line1": "1 Main Street",
                    "city": "Springfield",
                    "country": {"value": "USA"},
                    "address_type": [{"value": "home"}],
                    "preferred": True,
                }
            ],
            "email": [
                {
                    "email_address": f"user{n}@example.edu",
                    "email_type": [{"value": "school"}],
                    "preferred": True,
                }
            ],
            "phone": [],
        },
        "user_identifier": [
            {"id_type": {"value": "BARCODE"}, "value": f"B{n:08d}", "segment_type": "External"}
        ],
        "user_statistic": [{"statistic_category": {"value": "SCI"}}],
    }
    data.update(overrides)
    return data


def patron_factory(institution: Any, **overrides: Any) -> Any:
    from patronsync.patrons.services import Actor, patron_create

    return patron_create(
        institution=institution, data=user_json(**overrides), actor=Actor.system("factory")
    )
