"""Fixtures shared by every app's tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def institution(db):
    from patronsync.core.services import institution_get_or_create_default

    return institution_get_or_create_default()


@pytest.fixture
def other_institution(db):
    from patronsync.core.services import institution_create

    return institution_create(code="branch", name="Branch library", time_zone="Europe/Berlin")


@pytest.fixture
def system_actor():
    from patronsync.patrons.services import Actor

    return Actor.system("tests")


@pytest.fixture
def staff(db):
    """A maker of staff accounts for page tests: `staff(institution, "GSA")` (or a StaffRole),
    one new account per call; `staff(None)` makes an account with no membership anywhere."""
    import itertools

    from patronsync.accounts.services import staff_create

    numbers = itertools.count(1)

    def make(institution, role=None, *, username=None):
        name = username or f"staff{next(numbers)}"
        memberships = {institution: role} if institution is not None and role else {}
        return staff_create(username=name, password="a long password 1", memberships=memberships)

    return make
