"""The ``patronsync feed`` commands: output and exit codes (through `register`, as cli.py does)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from patronsync.feeds.commands import main


def test_validate_good_feed_exits_zero_and_prints_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "feed.zip"
    assert main(["feed", "sample", "--users", "30", "-o", str(path), "--users-per-file", "20"]) == 0
    assert main(["feed", "validate", "--strict", str(path)]) == 0
    out = capsys.readouterr().out
    assert "feed.zip: 30 users, ok" in out
    assert "users_002.xml: 10 users" in out
    assert "0 errors, 0 warnings" in out


def test_validate_reports_problem_lines_and_exits_non_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "feed.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("a.xml", "<users>\n<user><primary_id>7</primary_id>\n<birth_date>x</birth_date>"
                    "</user></users>")  # fmt: skip
        zf.writestr("b.xml", "<users>\n<user>")
    assert main(["feed", "validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert "feed.zip:a.xml:3: user 7: <birth_date> 'x' is not a date" in out
    assert "feed.zip:b.xml:2: not well-formed XML" in out
    assert "2 errors" in out


def test_validate_warnings_alone_exit_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "feed.xml"
    path.write_text("<users><user><primary_id>1</primary_id><extra>x</extra></user></users>")
    assert main(["feed", "validate", str(path)]) == 0
    assert "unknown element <extra>" in capsys.readouterr().out
