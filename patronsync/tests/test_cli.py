"""The `patronsync` command: its own commands and Django's behind it."""

from __future__ import annotations

import pytest

from patronsync.cli import main


@pytest.mark.django_db
def test_django_commands_pass_through(capsys):
    assert main(["check"]) == 0
    assert "no issues" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["serve", "quickstart", "config", "run", "createadmin"])
def test_each_own_command_answers_help(command, capsys):
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    assert f"usage: patronsync {command}" in capsys.readouterr().out
