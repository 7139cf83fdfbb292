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


def engine_settings(monkeypatch_env: dict[str, str]) -> tuple[int, str]:
    """The engine's batch size and read-ahead flag as a fresh process reads them, or the error."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("PATRONSYNC_")}
    env.update(monkeypatch_env, DJANGO_SETTINGS_MODULE="config.settings.test")
    code = (
        "import django; django.setup(); from patronsync.loader import pipeline; "
        "print(pipeline.BATCH_SIZE, pipeline.READ_AHEAD)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    return done.returncode, (done.stdout + done.stderr).strip().splitlines()[-1]


def test_empty_engine_settings_take_their_defaults():
    assert engine_settings({"PATRONSYNC_BATCH_SIZE": "", "PATRONSYNC_READ_AHEAD": ""}) == (
        0,
        "2000 True",
    )


def test_read_ahead_off_runs_the_reader_in_the_job_process():
    assert engine_settings({"PATRONSYNC_READ_AHEAD": "off", "PATRONSYNC_BATCH_SIZE": "500"}) == (
        0,
        "500 False",
    )


def test_a_malformed_batch_size_stops_the_start_naming_it():
    code, last_line = engine_settings({"PATRONSYNC_BATCH_SIZE": "lots"})
    assert code != 0
    assert "PATRONSYNC_BATCH_SIZE: expected a whole number of at least 1, got 'lots'" in last_line
