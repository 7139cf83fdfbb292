"""Swap All with a profile's field ownership and sticky protection, in memory (no database)."""

from __future__ import annotations

from patronsync.patrons.models import Patron
from patronsync.patrons.rules import PatronData
from patronsync.patrons.swap import API_MODE, SwapContext, swap_all

OWNERSHIP = {
    "email": "library",
    "last_name": "library",
    "expiry_date": "preserve_if_empty",
    "phone": "preserve_if_empty",
    "first_name": "sis",
}


def stored() -> Patron:
    return Patron(
        primary_id="u1",
        first_name="Ada",
        last_name="King",
        user_group="GRAD",
        account_type="EXTERNAL",
        external_id="SIS",
        expiry_date="2030-01-31",
        segments={
            "email": [{"email_address": "ada@lib.edu", "segment_type": "External"}],
            "phone": [{"phone_number": "123", "segment_type": "External"}],
        },
    )


def feed(**core) -> PatronData:
    return PatronData(
        core={"primary_id": "u1", "first_name": "Augusta", "last_name": "Byron", **core},
        segments={"email": [{"email_address": "new@uni.edu"}]},
    )


def test_the_context_of_a_profile_sorts_its_fields_by_owner():
    context = SwapContext.for_profile(
        profile_code="SIS", record_type="PUBLIC", ownership=OWNERSHIP, protection="sticky"
    )
    assert context.library_owned == {"email", "last_name"}
    assert context.preserve_if_empty == {"expiry_date", "phone"}
    assert context.sticky
    plain = SwapContext.for_profile(profile_code="SIS", record_type="PUBLIC")
    assert (plain.library_owned, plain.preserve_if_empty, plain.sticky) == (set(), set(), False)


def test_library_owned_fields_are_kept_and_preserve_if_empty_ones_kept_when_empty():
    patron = stored()
    context = SwapContext.for_profile(profile_code="SIS", record_type="", ownership=OWNERSHIP)
    swap_all(patron=patron, incoming=feed(), context=context, identifiers=[])
    assert patron.first_name == "Augusta"  # SIS-owned
    assert patron.last_name == "King"  # library-owned
    assert [e["email_address"] for e in patron.segments["email"]] == ["ada@lib.edu"]
    assert str(patron.expiry_date) == "2030-01-31"  # the feed sent none
    assert patron.segments["phone"] == [{"phone_number": "123", "segment_type": "External"}]


def test_without_ownership_swap_all_replaces_and_empties_as_alma_does():
    patron = stored()
    context = SwapContext.for_profile(profile_code="SIS", record_type="")
    swap_all(patron=patron, incoming=feed(), context=context, identifiers=[])
    assert (patron.last_name, patron.expiry_date) == ("Byron", None)
    assert [e["email_address"] for e in patron.segments["email"]] == ["new@uni.edu"]
    assert "phone" not in patron.segments


def test_the_api_ignores_a_profiles_ownership():
    patron = stored()
    context = SwapContext(mode=API_MODE, library_owned=frozenset({"last_name"}))
    swap_all(patron=patron, incoming=feed(), context=context, identifiers=[])
    assert patron.last_name == "Byron"


def test_sticky_protection_keeps_a_library_edit_when_the_sis_repeats_its_value():
    for sticky, expected in ((False, "GRAD"), (True, "STAFF")):
        patron = stored()
        patron.user_group = "STAFF"
        patron.protection = {"user_group": {"sis": "GRAD", "manual": True}}
        context = SwapContext(profile_code="SIS", sticky=sticky)
        swap_all(patron=patron, incoming=feed(user_group="GRAD"), context=context, identifiers=[])
        assert patron.user_group == expected
        assert patron.is_manually_changed("user_group") is sticky


def test_sticky_protection_remembers_the_sis_latest_value_for_restore():
    patron = stored()
    patron.user_group = "STAFF"
    patron.protection = {"user_group": {"sis": "GRAD", "manual": True}}
    context = SwapContext(profile_code="SIS", sticky=True)
    swap_all(patron=patron, incoming=feed(user_group="FACULTY"), context=context, identifiers=[])
    assert patron.user_group == "STAFF"
    assert patron.protection["user_group"] == {"sis": "FACULTY", "manual": True}
