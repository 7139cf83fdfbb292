"""`patronsync createadmin`: the first General System Administrator."""

from __future__ import annotations

import pytest

from patronsync.cli import main


@pytest.mark.django_db
def test_createadmin_creates_general_system_administrator(capsys, monkeypatch):
    from patronsync.accounts.models import Membership

    monkeypatch.setenv("PATRONSYNC_ADMIN_PASSWORD", "a long password 1")
    assert main(["createadmin", "--username", "boss"]) == 0
    membership = Membership.objects.get(user__username="boss")
    assert membership.role == "GSA"
    assert "a long password 1" not in capsys.readouterr().out
    assert main(["createadmin", "--username", "boss"]) == 1
