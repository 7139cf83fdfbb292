"""Staff logins are throttled per account and per address (django-axes): after the failure
limit, even the right password is refused until the lockout ends or an operator lifts it."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client

from patronsync.accounts.choices import StaffRole
from patronsync.accounts.services import staff_create

pytestmark = pytest.mark.django_db

PASSWORD = "a long password 1"
LOGIN = "/admin/login/?next=/admin/"
HOME = "192.0.2.10"  # documentation addresses (RFC 5737): only REMOTE_ADDR values here
ELSEWHERE = "192.0.2.20"


@pytest.fixture(autouse=True)
def throttling(settings):
    """django-axes as in production (the test settings turn it off for client.login())."""
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 5


@pytest.fixture
def staff(institution):
    for username in ("clerk", "boss"):
        staff_create(
            username=username,
            password=PASSWORD,
            memberships={institution: StaffRole.GENERAL_SYSTEM_ADMINISTRATOR},
        )


def login(username: str, password: str, *, address: str = HOME) -> tuple[int, bool]:
    """POST the admin's login form; the status, and whether the client is now signed in."""
    client = Client(REMOTE_ADDR=address)
    response = client.post(LOGIN, {"username": username, "password": password})
    return response.status_code, "_auth_user_id" in client.session


def test_right_password_after_30_wrong_ones_does_not_sign_in(staff):
    for attempt in range(30):
        login("clerk", f"wrong {attempt}")

    status, signed_in = login("clerk", PASSWORD)

    assert (status, signed_in) == (429, False)


def test_right_password_after_fewer_failures_than_the_limit_signs_in(staff):
    for attempt in range(4):
        assert login("clerk", f"wrong {attempt}") == (200, False)  # the form again, with an error

    assert login("clerk", PASSWORD) == (302, True)


def test_a_locked_account_is_refused_from_every_address(staff):
    for attempt in range(5):
        login("clerk", f"wrong {attempt}", address=HOME)

    assert login("clerk", PASSWORD, address=ELSEWHERE) == (429, False)
    assert login("boss", PASSWORD, address=ELSEWHERE) == (302, True)  # other accounts work


def test_a_locked_address_is_refused_for_every_account(staff):
    for attempt, username in enumerate(["a", "b", "c", "d", "e"]):
        login(username, f"wrong {attempt}", address=HOME)

    assert login("boss", PASSWORD, address=HOME) == (429, False)
    assert login("boss", PASSWORD, address=ELSEWHERE) == (302, True)


def test_lockout_answer_says_why_and_shows_no_form(staff):
    for attempt in range(5):
        login("clerk", f"wrong {attempt}")

    response = Client(REMOTE_ADDR=HOME).post(LOGIN, {"username": "clerk", "password": PASSWORD})

    assert response.status_code == 429
    assert b"too many login attempts" in response.content
    assert PASSWORD.encode() not in response.content


def test_operator_lifts_the_lockouts_with_axes_reset(staff):
    for attempt in range(5):
        login("clerk", f"wrong {attempt}")

    call_command("axes_reset")  # what `patronsync axes_reset` runs

    assert login("clerk", PASSWORD) == (302, True)
