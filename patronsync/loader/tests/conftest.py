"""Fixtures for engine tests: a drop folder, a profile reading it, and feed builders."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from patronsync.demo.services import demo_config
from patronsync.profiles.models import IntegrationProfile
from patronsync.profiles.services import config_apply


def user_xml(
    primary_id: str | None,
    *,
    first: str = "Ada",
    last: str = "Lovelace",
    group: str = "GRAD",
    barcode: str | None = None,
    univ_id: str | None = None,
    email: str | None = None,
    extra: str = "",
) -> str:
    """One <user> element in Alma User XML v2."""
    ids = "".join(
        f"<user_identifier><id_type>{t}</id_type><value>{v}</value></user_identifier>"
        for t, v in (("BARCODE", barcode), ("UNIV_ID", univ_id))
        if v
    )
    mail = email or f"{primary_id or first}@uni.edu"
    return (
        "<user>"
        + (f"<primary_id>{primary_id}</primary_id>" if primary_id else "")
        + f"<first_name>{first}</first_name><last_name>{last}</last_name>"
        + f"<user_group>{group}</user_group><expiry_date>2030-01-31Z</expiry_date>"
        + "<status>ACTIVE</status>"
        + '<contact_info><emails><email preferred="true"><email_address>'
        + mail
        + "</email_address><email_types><email_type>school</email_type></email_types>"
        + "</email></emails></contact_info>"
        + (f"<user_identifiers>{ids}</user_identifiers>" if ids else "")
        + extra
        + "</user>"
    )


def write_zip(path: Path, entries: dict[str, str]) -> Path:
    """A zip of XML documents; values that are lists of <user> strings get a <users> root."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, body in entries.items():
            zf.writestr(name, body)
    return path


def users_doc(*users: str) -> str:
    return '<?xml version="1.0" encoding="UTF-8"?>\n<users>\n' + "\n".join(users) + "\n</users>\n"


@pytest.fixture
def drop(tmp_path):
    for folder in ("import", "synchronize"):
        (tmp_path / folder).mkdir()
    return tmp_path


def make_profile(institution, drop, **sync):
    """The quick start's profile `SIS` reading `drop`, with synchronize settings overridden."""
    document = demo_config(drop)
    document["profiles"][0]["synchronize"].update(sync)
    config_apply(institution=institution, document=document)
    return IntegrationProfile.objects.get(institution=institution, code="SIS")


# The engine's tests are not about the mass-change guard (on by default): their profile turns it
# off, so each run is applied in one pass as they expect. The guard's own tests
# (jobs/tests/test_guard*.py) make their profiles with `make_profile`, the guard on.
GUARD_OFF = {"enabled": False}


@pytest.fixture
def profile(institution, drop):
    return make_profile(institution, drop, guard=GUARD_OFF)
