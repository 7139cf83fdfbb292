"""A record with the very bytes its user was last loaded from is matched without a query
(`KnownHashes.with_patrons`): each outcome is the one the lookup gives.

Each scenario plans the same day-2 feed twice, as dry runs (nothing written): once as the engine
runs it, and once with the plain hashes, where every record is matched by the lookup. The two
plans must agree record by record.
"""

from __future__ import annotations

import pytest

from patronsync.jobs.models import JobRecord
from patronsync.jobs.services import profile_run
from patronsync.loader import pipeline
from patronsync.loader.state import KnownHashes, match_key
from patronsync.patrons.models import Patron, PatronIdentifier, identifier_key
from patronsync.patrons.selectors import patron_raw_hashes

from .conftest import GUARD_OFF, make_profile, user_xml, users_doc, write_zip

pytestmark = pytest.mark.django_db


def _feed(drop, name, *users):
    return write_zip(drop / "synchronize" / name, {"users.xml": users_doc(*users)})


def _plan(profile, monkeypatch, *, by_lookup: bool):
    """The dry run's outcomes, by line: (line, outcome, reason code, primary ID)."""
    with monkeypatch.context() as patch:
        if by_lookup:
            patch.setattr(
                pipeline,
                "known_hashes",
                lambda ctx: KnownHashes(patron_raw_hashes(institution=ctx.institution)),
            )
        job = profile_run(profile=profile, kind="synchronize", dry_run=True)
    counts = (job.created, job.updated, job.unchanged, job.rejected)
    records = sorted(
        JobRecord.objects.filter(job=job).values_list(
            "line", "outcome", "reason_code", "primary_id"
        )
    )
    return counts, records


def _both_ways(profile, monkeypatch):
    fast = _plan(profile, monkeypatch, by_lookup=False)
    looked_up = _plan(profile, monkeypatch, by_lookup=True)
    assert fast == looked_up
    return fast


def test_known_bytes_keep_their_users_as_the_lookup_would(institution, drop, monkeypatch):
    profile = make_profile(institution, drop, guard=GUARD_OFF)
    day1 = [user_xml(f"u{n}", univ_id=f"90{n}") for n in range(1, 6)]
    _feed(drop, "day1.zip", *day1)
    assert profile_run(profile=profile, kind="synchronize").created == 5
    # Since then: u2 became HR's user, u3 a library (internal) account, and u4's primary ID is
    # another now (the store's identifier row), each keeping the raw hash of its last load.
    Patron.objects.filter(primary_id="u2").update(external_id="HR")
    Patron.objects.filter(primary_id="u3").update(account_type="INTERNAL")
    PatronIdentifier.objects.filter(id_type="primary_id", value="u4").update(
        value="u4-renamed", value_key=identifier_key("u4-renamed")
    )
    # u1 comes twice with its very bytes; u5 changed.
    _feed(drop, "day2.zip", *day1[:4], day1[0], user_xml("u5", univ_id="905", last="Changed"))
    counts, records = _both_ways(profile, monkeypatch)
    by_user = {(primary_id, outcome, code) for _, outcome, code, primary_id in records}
    assert ("u2", "rejected", "OTHER_PROFILES_USER") in by_user
    assert ("u3", "rejected", "USER_NOT_EXTERNAL") in by_user
    assert ("u4", "rejected", "IDENTIFIER_TAKEN") in by_user  # matched no one: a new u4
    assert ("u5", "would_update", "") in by_user
    # u1's second record is a duplicate in the feed, in Alma's words, whichever way it matched.
    assert sum(1 for r in records if r[3] == "u1" and r[1] == "rejected") == 1
    assert counts[2] == 1  # u1 the first time: unchanged, nothing written for it


def test_known_bytes_matched_on_an_identifier_type(institution, drop, monkeypatch):
    profile = make_profile(institution, drop, guard=GUARD_OFF, match_id_type="UNIV_ID")
    day1 = [user_xml(f"u{n}", univ_id=f"90{n}") for n in range(1, 4)]
    _feed(drop, "day1.zip", *day1)
    assert profile_run(profile=profile, kind="synchronize").created == 3
    # Staff gave u2 another UNIV_ID: its old bytes no longer match it by UNIV_ID.
    PatronIdentifier.objects.filter(id_type="UNIV_ID", value="902").update(
        value="902-new", value_key=identifier_key("902-new")
    )
    _feed(drop, "day2.zip", *day1)
    counts, records = _both_ways(profile, monkeypatch)
    assert counts[2] == 2  # u1 and u3 unchanged
    assert [(r[3], r[1]) for r in records] == [("u2", "rejected")]  # its primary ID is taken


def test_known_hashes_say_whose_bytes_a_hash_is() -> None:
    mine, theirs = "0123456789abcdef" * 2, "f" * 32
    known = KnownHashes.with_patrons(
        [(theirs, 0, match_key("u9")), (mine, 7, match_key("u1")), (mine, 8, match_key("u2"))]
    )
    assert len(known) == 3
    assert mine in known
    assert theirs in known
    assert known.patron_of(mine, match_key("u1")) == 7
    assert known.patron_of(mine, match_key("u2")) == 8  # two users once loaded the same bytes
    assert known.patron_of(mine, match_key("u3")) == 0  # the value is no longer theirs
    assert known.patron_of(theirs, match_key("u9")) == 0  # not one to keep without a look
    assert known.patron_of("e" * 32, match_key("u1")) == 0
    assert KnownHashes([mine]).patron_of(mine, match_key("u1")) == 0
