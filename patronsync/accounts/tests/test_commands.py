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


@pytest.mark.django_db
def test_institution_create_adds_a_member_with_standard_code_tables(capsys):
    from patronsync.core.models import CodeTableEntry, Institution

    code = main(
        ["institution", "create", "branch", "--name", "Branch", "--time-zone", "Europe/Berlin"]
    )

    assert code == 0
    institution = Institution.objects.get(code="branch")
    assert (institution.name, institution.time_zone) == ("Branch", "Europe/Berlin")
    assert CodeTableEntry.objects.filter(institution=institution, table="UserGroups").exists()
    out = capsys.readouterr().out
    assert "Created institution branch (Branch, Europe/Berlin)" in out
    assert "patronsync createadmin --username NAME --institution branch" in out


@pytest.mark.django_db
def test_institution_create_refuses_a_taken_code_or_an_unknown_time_zone(capsys):
    from patronsync.core.models import Institution

    assert main(["institution", "create", "branch", "--name", "Branch"]) == 0
    assert main(["institution", "create", "branch", "--name", "Again"]) == 1
    assert "An institution with code 'branch' already exists." in capsys.readouterr().err
    assert (
        main(["institution", "create", "east", "--name", "East", "--time-zone", "Mars/Base"]) == 1
    )
    assert "time_zone:" in capsys.readouterr().err
    assert not Institution.objects.filter(code="east").exists()


@pytest.mark.django_db
def test_createadmin_for_one_institution_administers_only_that_one(
    monkeypatch, institution, other_institution
):
    from patronsync.accounts.models import Membership

    monkeypatch.setenv("PATRONSYNC_ADMIN_PASSWORD", "a long password 1")
    assert main(["createadmin", "--username", "b", "--institution", "branch"]) == 0
    memberships = Membership.objects.filter(user__username="b")
    assert [(m.institution.code, m.role) for m in memberships] == [("branch", "GSA")]


@pytest.mark.django_db
def test_apikey_create_gives_the_scopes_asked_for_in_the_named_institution(
    capsys, institution, other_institution
):
    from patronsync.accounts.selectors import api_key_get_active

    argv = ["apikey", "create", "--name", "cfg", "--institution", "branch"]
    assert main([*argv, "--scope", "users:read", "--scope", "config:write"]) == 0
    out = capsys.readouterr().out
    api_key = api_key_get_active(key=out.strip().splitlines()[-1])
    assert api_key is not None
    assert api_key.institution == other_institution
    assert api_key.scopes == "users:read config:write"
    assert "with scopes users:read config:write" in out


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("flags", "scopes"),
    [
        (["--read-only"], "users:read"),
        (["--read-write"], "users:read users:write"),
        (["--read-write", "--scope", "config:write"], "users:read users:write config:write"),
    ],
)
def test_apikey_create_read_only_and_read_write_map_to_scopes(capsys, institution, flags, scopes):
    from patronsync.accounts.selectors import api_key_get_active

    assert main(["apikey", "create", "--name", "k", *flags]) == 0
    api_key = api_key_get_active(key=capsys.readouterr().out.strip().splitlines()[-1])
    assert api_key is not None
    assert api_key.scopes == scopes


@pytest.mark.django_db
def test_apikey_create_without_scopes_or_with_an_unknown_scope_is_refused(capsys, institution):
    from patronsync.accounts.models import ApiKey

    assert main(["apikey", "create", "--name", "k"]) == 1
    assert "--read-only, --read-write or --scope" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["apikey", "create", "--name", "k", "--scope", "users:delete"])
    assert "invalid choice: 'users:delete'" in capsys.readouterr().err
    assert not ApiKey.objects.exists()
