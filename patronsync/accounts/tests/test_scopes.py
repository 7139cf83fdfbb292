"""API key scopes: as stored, as created, and as migrated from the read-only flag."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from patronsync.accounts.choices import ApiScope
from patronsync.accounts.services import api_key_create


@pytest.mark.django_db
def test_scopes_are_stored_known_and_in_one_order(institution):
    api_key, _ = api_key_create(
        institution=institution, name="k", scopes=["config:write", "users:read"]
    )
    assert api_key.scopes == "users:read config:write"
    assert api_key.has_scope(ApiScope.CONFIG_WRITE)
    assert not api_key.allows_users(write=True)
    assert api_key.allows_users(write=False)


@pytest.mark.django_db
def test_unknown_scope_or_no_scope_is_refused(institution):
    with pytest.raises(ValueError, match="Unknown API key scope 'admin'; expected one of"):
        api_key_create(institution=institution, name="k", scopes=["admin"])
    with pytest.raises(ValueError, match="at least one scope"):
        api_key_create(institution=institution, name="k")


@pytest.mark.django_db(transaction=True)
def test_migration_gives_old_keys_user_scopes_and_never_config_write(institution):
    executor = MigrationExecutor(connection)
    executor.migrate([("accounts", "0002_apikey")])
    old = executor.loader.project_state([("accounts", "0002_apikey")]).apps
    old_key_model = old.get_model("accounts", "ApiKey")
    old_key_model.objects.create(
        institution_id=institution.pk, name="ro", key_hash="a" * 64, read_only=True
    )
    old_key_model.objects.create(
        institution_id=institution.pk, name="rw", key_hash="b" * 64, read_only=False
    )

    executor = MigrationExecutor(connection)
    try:
        executor.migrate([("accounts", "0003_apikey_scopes")])
        new = executor.loader.project_state([("accounts", "0003_apikey_scopes")]).apps
        scopes = dict(new.get_model("accounts", "ApiKey").objects.values_list("name", "scopes"))
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())

    assert scopes == {"ro": "users:read", "rw": "users:read users:write"}
