"""Fixtures of the API tests: staff by role, API keys, clients, a profile on a feed folder."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from patronsync.accounts.choices import StaffRole
from patronsync.accounts.services import api_key_create, staff_create
from patronsync.loader.tests.conftest import drop, make_profile

__all__ = ["drop"]  # the feed folder fixture of the engine tests

PASSWORD = "a long password 1"


def staff_client(username: str, memberships: dict) -> APIClient:
    """A client signed in (session) as a new staff account with the given roles."""
    user = staff_create(username=username, password=PASSWORD, memberships=memberships)
    client = APIClient()
    client.force_login(user)
    return client


def key_client(key: str) -> APIClient:
    """A client sending an API key in the Authorization header."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"apikey {key}")
    return client


@pytest.fixture
def admin_api(institution) -> APIClient:
    return staff_client("admin", {institution: StaffRole.GENERAL_SYSTEM_ADMINISTRATOR})


@pytest.fixture
def manager_api(institution) -> APIClient:
    return staff_client("manager", {institution: StaffRole.USER_MANAGER})


@pytest.fixture
def viewer_api(institution) -> APIClient:
    return staff_client("viewer", {institution: StaffRole.VIEWER})


@pytest.fixture
def other_admin_api(other_institution) -> APIClient:
    return staff_client("branch-admin", {other_institution: StaffRole.GENERAL_SYSTEM_ADMINISTRATOR})


@pytest.fixture
def rw_key(institution) -> str:
    return api_key_create(institution=institution, name="scripts", read_only=False)[1]


@pytest.fixture
def ro_key(institution) -> str:
    return api_key_create(institution=institution, name="reports", read_only=True)[1]


@pytest.fixture
def profile(institution, drop):
    """Profile SIS reading `drop`/import and `drop`/synchronize through connection `drop`; the
    mass-change guard off (these tests are not about it: test_guard_api.py is)."""
    return make_profile(institution, drop, guard={"enabled": False})


def body_of(response) -> str:
    """The whole body of a response, streamed or not, as text."""
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode()
    return response.content.decode()
