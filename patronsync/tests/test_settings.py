"""Settings read from PATRONSYNC_* variables: a malformed number stops the start, naming it."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.settings.base import env_int


def test_a_number_setting_is_read(monkeypatch):
    monkeypatch.setenv("PATRONSYNC_LOGIN_FAILURE_LIMIT", " 12 ")

    assert env_int("LOGIN_FAILURE_LIMIT", 5) == 12


def test_an_unset_number_setting_takes_its_default(monkeypatch):
    monkeypatch.delenv("PATRONSYNC_LOGIN_FAILURE_LIMIT", raising=False)

    assert env_int("LOGIN_FAILURE_LIMIT", 5) == 5


@pytest.mark.parametrize("value", ["abc", "0", "-3", "2.5", "²"])
def test_a_malformed_number_setting_is_refused_naming_it(monkeypatch, value):
    monkeypatch.setenv("PATRONSYNC_MAX_REQUEST_BODY", value)

    with pytest.raises(ImproperlyConfigured, match="PATRONSYNC_MAX_REQUEST_BODY: expected a whole"):
        env_int("MAX_REQUEST_BODY", 2_621_440)
