"""A webhook added in the admin without a secret gets one made, shown once in a message: the
message is kept in the server-side session, never in a cookie the browser (or a proxy) holds."""

from __future__ import annotations

import pytest
from django.test import Client

from patronsync.accounts.choices import StaffRole
from patronsync.accounts.services import staff_create
from patronsync.notifications.models import Webhook

pytestmark = pytest.mark.django_db


def test_a_generated_secret_is_shown_once_and_never_put_in_a_cookie(institution):
    staff_create(
        username="gsa",
        password="a long password 1",
        memberships={institution: StaffRole.GENERAL_SYSTEM_ADMINISTRATOR},
    )
    client = Client()
    assert client.login(username="gsa", password="a long password 1")

    added = client.post(
        "/admin/notifications/webhook/add/",
        {
            "institution": institution.pk,
            "url": "https://hooks.example.edu/patronsync",
            "secret": "",
            "active": "on",
            "deliveries-TOTAL_FORMS": "0",
            "deliveries-INITIAL_FORMS": "0",
        },
    )

    assert added.status_code == 302, added.content.decode()[:2000]
    secret = str(Webhook.objects.get().secret)
    assert len(secret) >= 32
    assert "messages" not in added.cookies  # Django's cookie storage would put it there
    assert not any(secret in morsel.OutputString() for morsel in added.cookies.values())

    shown = client.get(added["Location"])
    assert secret in shown.content.decode()  # the administrator copies it now
    assert not any(secret in morsel.OutputString() for morsel in shown.cookies.values())
    again = client.get(added["Location"])
    assert secret not in again.content.decode()  # shown once
