"""What the store accepts, every database stores: the same feed gives the same outcome, user by
user, on SQLite and PostgreSQL, through the fast path, the reference path and the API.

These tests run on both databases in CI; each asserts the outcome of every user, so a database
that refused (or folded together) a value the checks let through fails them.
"""

from __future__ import annotations

import unicodedata
from dataclasses import asdict

import pytest
from lxml import etree

from patronsync.accounts.services import api_key_create
from patronsync.almaws.tests.conftest import ApiClient
from patronsync.almaxml import iter_raw_users
from patronsync.almaxml.jsonform import user_to_json
from patronsync.core.selectors import code_tables_for_institution
from patronsync.jobs.models import JobRecord
from patronsync.jobs.services import profile_run
from patronsync.loader.batch import parse_record
from patronsync.loader.plain import NotPlain, decode_plain
from patronsync.patrons.models import Patron, PatronIdentifier

from .conftest import user_xml, users_doc, write_zip

pytestmark = pytest.mark.django_db

PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True)
DECOMPOSED = unicodedata.normalize("NFD", "José")
# Greek alpha and sigma, capitals and small: PostgreSQL's lower() folds them together.
CAPITALS, SMALL = "\u0391\u03a3", "\u03b1\u03c3"

# Every edge case of the attack, with normal users around them: (primary ID, barcode, outcome,
# reject code). The 300-character barcode stopped a profile for good on PostgreSQL; the small
# sigma and `i1` were refused by PostgreSQL's lower() index and accepted by SQLite.
EDGE_CASES = [
    ("u1", "B1", "created", ""),
    ("long1", "B" * 300, "rejected", "VALUE_TOO_LONG"),
    (CAPITALS, "B3", "created", ""),
    (SMALL, "B4", "rejected", "DUPLICATE_IN_FEED"),
    ("İ1", "B5", "created", ""),
    ("i1", "B6", "created", ""),
    ("\u202eevil", "B7", "rejected", "INVALID_CHARACTER"),
    ("zero\u200bwidth", "B8", "rejected", "INVALID_CHARACTER"),
    ("u9", "B\u200f9", "rejected", "INVALID_CHARACTER"),
    (DECOMPOSED, "B10", "created", ""),
    ("JOSÉ", "B11", "rejected", "DUPLICATE_IN_FEED"),
    ("u12", "B12", "created", ""),
]
STORED = {"u1", CAPITALS, "İ1", "i1", "José", "u12"}


def edge_feed() -> list[str]:
    return [user_xml(pid, barcode=barcode) for pid, barcode, _, _ in EDGE_CASES]


def outcomes(job) -> dict[str, tuple[str, str]]:
    rows = JobRecord.objects.filter(job=job).order_by("position")
    return {r.match_value: (r.outcome, r.reason_code) for r in rows}


def expected() -> dict[str, tuple[str, str]]:
    return {pid: (outcome, code) for pid, _, outcome, code in EDGE_CASES}


@pytest.mark.parametrize("kind", ["import", "synchronize"])
def test_every_edge_case_of_a_feed_has_the_same_outcome_on_every_database(
    profile, drop, institution, kind
) -> None:
    write_zip(drop / kind / "edge.zip", {"users.xml": users_doc(*edge_feed())})
    job = profile_run(profile=profile, kind=kind)
    assert job.status == "completed_with_errors"
    assert outcomes(job) == expected()
    assert set(Patron.objects.values_list("primary_id", flat=True)) == STORED
    assert (drop / kind / "edge.zip.handled").exists()
    assert not PatronIdentifier.objects.filter(value__startswith="BBBB").exists()


def test_the_reasons_name_the_field_and_the_character(profile, drop) -> None:
    write_zip(drop / "import" / "edge.zip", {"users.xml": users_doc(*edge_feed())})
    job = profile_run(profile=profile, kind="import")
    reasons = {r.match_value: r.reason for r in JobRecord.objects.filter(job=job)}
    assert reasons["long1"] == "Field user_identifier[0].value is longer than 255 characters"
    assert reasons["\u202eevil"].startswith(
        "Field primary_id contains an invisible or control character (U+202E RIGHT-TO-LEFT "
        "OVERRIDE)"
    )
    assert "(U+200B ZERO WIDTH SPACE)" in reasons["zero\u200bwidth"]
    assert reasons["u9"].startswith("Field user_identifier[0].value contains an invisible")


def test_a_later_sync_matches_a_decomposed_primary_id_to_its_composed_user(profile, drop) -> None:
    write_zip(drop / "import" / "a.zip", {"users.xml": users_doc(user_xml("José", barcode="J1"))})
    profile_run(profile=profile, kind="import")
    write_zip(
        drop / "synchronize" / "b.zip",
        {"users.xml": users_doc(user_xml(DECOMPOSED, barcode="J1", last="Changed"))},
    )
    job = profile_run(profile=profile, kind="synchronize")
    assert (job.created, job.updated, job.rejected) == (0, 1, 0)
    assert Patron.objects.get().last_name == "Changed"


def test_fast_path_reference_path_and_api_agree_on_every_edge_case(institution) -> None:
    codes = code_tables_for_institution(institution=institution)
    api = ApiClient(api_key_create(institution=institution, name="sis", read_only=False)[1])
    body = users_doc(*edge_feed()).encode()
    agreed = {}
    for raw in iter_raw_users(body):
        reference = parse_record(raw, codes, with_hash=False)
        try:
            fast = decode_plain(etree.fromstring(raw.raw, PARSER), codes)
        except NotPlain:
            fast = None
        if fast is not None:  # the fast path takes only what the reference path accepts
            assert reference.data is not None
            assert asdict(fast) == asdict(reference.data)
        form = user_to_json(raw.parse().user)
        response = api.post("/almaws/v1/users", {**form, "external_id": "SIS"})
        if response.status_code == 200:
            assert reference.data is not None
            agreed[raw.primary_id] = ""
            continue
        assert response.status_code == 400, (raw.primary_id, response.content[:300])
        message = response.json()["errorList"]["error"][0]["errorMessage"]
        if reference.data is None:
            assert message == reference.reject_reason
            agreed[raw.primary_id] = reference.reject_code
        else:  # a user the API created before holds the value: in a feed, a duplicate
            assert "already exists (used by user" in message
            agreed[raw.primary_id] = "DUPLICATE_IN_FEED"
    assert agreed == {pid: code for pid, _, _, code in EDGE_CASES}
