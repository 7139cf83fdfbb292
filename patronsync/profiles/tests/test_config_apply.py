"""`patronsync config apply`: declared connections and profiles, applied idempotently."""

from __future__ import annotations

import json

import pytest

from patronsync.cli import main
from patronsync.connections.models import Connection
from patronsync.core.exceptions import ConfigurationError
from patronsync.jobs.models import Job
from patronsync.profiles.models import IntegrationProfile
from patronsync.profiles.services import config_apply_file

pytestmark = pytest.mark.django_db

CONFIG = """
connections:
  - name: local-drop
    type: local
    path: {path}
profiles:
  - code: SIS
    name: Student Information System
    connection: local-drop
    system: Campus Management
    import:
      active: true
      record_type: PUBLIC
      input_path: import
    synchronize:
      active: true
      record_type: PUBLIC
      match_id_type: UNIV_ID
      unmatched: REJECT
      input_path: synchronize
      schedule: NOT_SCHEDULED
"""


def write(tmp_path, text):
    path = tmp_path / "patronsync.yaml"
    path.write_text(text)
    return path


def test_apply_creates_then_changes_nothing(tmp_path, institution):
    path = write(tmp_path, CONFIG.format(path=tmp_path))
    assert config_apply_file(institution=institution, path=path) == [
        "connection local-drop: created",
        "profile SIS: created",
    ]
    assert config_apply_file(institution=institution, path=path) == [
        "connection local-drop: unchanged",
        "profile SIS: unchanged",
    ]
    profile = IntegrationProfile.objects.get(code="SIS")
    assert (profile.sync_match_id_type, profile.sync_unmatched) == ("UNIV_ID", "REJECT")
    assert Connection.objects.get().sub_directory == str(tmp_path)


def test_apply_updates_what_changed(tmp_path, institution):
    config_apply_file(institution=institution, path=write(tmp_path, CONFIG.format(path=tmp_path)))
    changed = CONFIG.format(path=tmp_path).replace("unmatched: REJECT", "unmatched: ADD")
    lines = config_apply_file(institution=institution, path=write(tmp_path, changed))
    assert lines == ["connection local-drop: unchanged", "profile SIS: updated"]
    assert IntegrationProfile.objects.get().sync_unmatched == "ADD"


@pytest.mark.parametrize(
    ("mutation", "message"),
    [
        (
            ("unmatched: REJECT", "unmatched: MAYBE"),
            r"profiles\[0\]\.synchronize: sync_unmatched is 'MAYBE'",
        ),
        (("connection: local-drop", "connection: nowhere"), r"profiles\[0\]: connection 'nowhere'"),
        (("system: Campus", "sytem: Campus"), r"unknown key\(s\) sytem"),
        (("  - code: SIS\n", "  - code: SIS\n   bad: [\n"), r"line \d+: not valid YAML"),
    ],
)
def test_bad_configuration_names_file_and_place_and_changes_nothing(
    tmp_path, institution, mutation, message
):
    text = CONFIG.format(path=tmp_path).replace(*mutation)
    with pytest.raises(ConfigurationError, match=message) as caught:
        config_apply_file(institution=institution, path=write(tmp_path, text))
    assert "patronsync.yaml" in str(caught.value)
    assert not Connection.objects.exists()
    assert not IntegrationProfile.objects.exists()


def test_cli_applies_config_then_runs_a_job_as_json(tmp_path, capsys):
    (tmp_path / "synchronize").mkdir()
    path = write(
        tmp_path,
        CONFIG.format(path=tmp_path).replace("match_id_type: UNIV_ID", "match_id_type: PRIMARY_ID"),
    )
    assert main(["config", "apply", str(path)]) == 0
    assert main(["run", "SIS", "--synchronize", "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("status", "process_id", "total_records_processed", "total_users_processed",
                "rejected", "updated", "created", "unchanged"):  # fmt: skip
        assert key in report
    assert report["status"] == "completed"
    assert report["total_users_processed"] == 0
    assert any(line.endswith("No new zip files in synchronize") for line in report["log"])
    assert main(["run", "SIS", "--synchronize"]) == 0  # the summary says so too
    assert "No new zip files in synchronize" in capsys.readouterr().out
    assert main(["run", "NOPE", "--synchronize"]) == 2


def test_cli_refuses_a_job_whose_section_is_not_active(tmp_path, capsys):
    (tmp_path / "import").mkdir()
    text = CONFIG.format(path=tmp_path).replace("active: true", "active: false")
    assert main(["config", "apply", str(write(tmp_path, text))]) == 0
    assert main(["run", "SIS", "--import"]) == 2
    assert "The Import section of profile SIS is not active" in capsys.readouterr().err
    assert not Job.objects.exists()


@pytest.mark.parametrize("command", [["config", "apply", "x.yaml"], ["run", "SIS", "--import"]])
def test_cli_names_an_institution_that_does_not_exist(command):
    with pytest.raises(SystemExit, match="No institution with code 'nowhere'"):
        main([*command, "--institution", "nowhere"])
