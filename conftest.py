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
