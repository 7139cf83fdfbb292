"""`patronsync config apply`: code tables, connections and profiles, applied idempotently."""

from __future__ import annotations

import json

import pytest

from patronsync.cli import main
from patronsync.connections.models import Connection
from patronsync.core.exceptions import ConfigurationError
from patronsync.core.models import CodeTableEntry
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


# Code tables ----------------------------------------------------------------------------------

CODE_TABLES = """
code_tables:
  UserGroups:
    - {code: GRADSTUD, description: Graduate student}
    - {code: NONACAD, description: Non-academic staff, enabled: false}
  UserStatCategories:
    - {code: ZQ, description: Staff category, default: true}
  UserIdentifierTypes:
    - {code: STUDENT_NO, description: Student number}
"""


def codes(institution, table):
    return {
        row.code: (row.description, row.is_default, row.enabled)
        for row in CodeTableEntry.objects.filter(institution=institution, table=table)
    }


def test_code_tables_are_declared_and_a_second_apply_changes_nothing(tmp_path, institution):
    path = write(tmp_path, CODE_TABLES)
    before = CodeTableEntry.objects.count()
    assert config_apply_file(institution=institution, path=path) == [
        "code table UserGroups GRADSTUD: created",
        "code table UserGroups NONACAD: created",
        "code table UserStatCategories ZQ: created",
        "code table UserIdentifierTypes STUDENT_NO: created",
    ]
    groups = codes(institution, "UserGroups")
    assert groups["GRADSTUD"] == ("Graduate student", False, True)
    assert groups["NONACAD"] == ("Non-academic staff", False, False)
    assert groups["GRAD"] == ("Graduate student", False, True)  # undeclared rows stay
    assert codes(institution, "UserStatCategories")["ZQ"] == ("Staff category", True, True)
    assert CodeTableEntry.objects.count() == before + 4
    assert config_apply_file(institution=institution, path=path) == [
        "code table UserGroups GRADSTUD: unchanged",
        "code table UserGroups NONACAD: unchanged",
        "code table UserStatCategories ZQ: unchanged",
        "code table UserIdentifierTypes STUDENT_NO: unchanged",
    ]
    assert CodeTableEntry.objects.count() == before + 4


def test_second_cli_apply_says_nothing_changed(tmp_path, institution, capsys):
    path = write(tmp_path, CODE_TABLES)
    assert main(["config", "apply", str(path)]) == 0
    assert "nothing changed" not in capsys.readouterr().out
    assert main(["config", "apply", str(path)]) == 0
    out = capsys.readouterr().out
    assert "code table UserGroups GRADSTUD: unchanged" in out
    assert out.strip().endswith(f"{path}: nothing changed")


def test_declared_code_table_row_is_updated_and_keeps_what_the_file_leaves_out(
    tmp_path, institution
):
    config_apply_file(institution=institution, path=write(tmp_path, CODE_TABLES))
    changed = "code_tables:\n  UserGroups:\n    - {code: NONACAD, enabled: true}\n"
    assert config_apply_file(institution=institution, path=write(tmp_path, changed)) == [
        "code table UserGroups NONACAD: updated"
    ]
    assert codes(institution, "UserGroups")["NONACAD"] == ("Non-academic staff", False, True)


def test_a_declared_default_unmarks_the_tables_former_default(tmp_path, institution):
    text = "code_tables:\n  UserPreferredLanguage:\n    - {code: de, default: true}\n"
    assert config_apply_file(institution=institution, path=write(tmp_path, text)) == [
        "code table UserPreferredLanguage de: updated"
    ]
    defaults = CodeTableEntry.objects.filter(
        institution=institution, table="UserPreferredLanguage", is_default=True
    )
    assert [row.code for row in defaults] == ["de"]


def test_profile_may_match_on_an_identifier_type_the_same_file_declares(tmp_path, institution):
    text = CODE_TABLES + CONFIG.format(path=tmp_path).replace(
        "match_id_type: UNIV_ID", "match_id_type: STUDENT_NO"
    )
    lines = config_apply_file(institution=institution, path=write(tmp_path, text))
    assert lines[-1] == "profile SIS: created"
    assert IntegrationProfile.objects.get().sync_match_id_type == "STUDENT_NO"


@pytest.mark.parametrize(
    ("code_tables", "place", "message"),
    [
        (
            "  UserGroup:\n    - {code: GRADSTUD}\n",
            "code_tables.UserGroup",
            "unknown code table 'UserGroup'; expected one of UserGroups, UserIdentifierTypes,",
        ),
        (
            "  UserGroups:\n    - {code: A}\n    - {code: B}\n    - {description: No code}\n",
            r"code_tables.UserGroups[2].code",
            "missing: every row needs a code",
        ),
        (
            "  UserGroups:\n    - {code: 27}\n",
            r"code_tables.UserGroups[0].code",
            '27 is not text; write the code in quotes, e.g. code: "27"',
        ),
        (
            "  UserGroups: {code: GRADSTUD}\n",
            "code_tables.UserGroups",
            "expected a list of rows, e.g. UserGroups: [{code: GRADSTUD,",
        ),
        (
            "  UserGroups:\n    - GRADSTUD\n",
            r"code_tables.UserGroups[0]",
            "expected a mapping with code, description, default, enabled",
        ),
        (
            "  UserGroups:\n    - {code: GRADSTUD, desc: Graduate}\n",
            r"code_tables.UserGroups[0]",
            "unknown key(s) desc; expected code, description, default, enabled",
        ),
        (
            "  UserGroups:\n    - {code: GRADSTUD, enabled: maybe}\n",
            r"code_tables.UserGroups[0].enabled",
            "'maybe'; expected true or false",
        ),
        (
            "  UserGroups:\n    - {code: GRADSTUD}\n    - {code: GRADSTUD}\n",
            r"code_tables.UserGroups[1].code",
            r"'GRADSTUD' is declared twice; also at code_tables.UserGroups[0]",
        ),
        (
            "  UserGroups:\n    - {code: A, default: true}\n    - {code: B, default: true}\n",
            r"code_tables.UserGroups[1].default",
            r"a code table has one default row; code_tables.UserGroups[0] is default too",
        ),
        (
            "  UserGroups:\n    - {code: " + "X" * 300 + "}\n",
            r"code_tables.UserGroups[0].code",
            "at most 255 characters",
        ),
    ],
    ids=[
        "unknown-table",
        "missing-code",
        "number-code",
        "rows-not-a-list",
        "row-not-a-mapping",
        "unknown-key",
        "not-a-boolean",
        "code-twice",
        "two-defaults",
        "code-too-long",
    ],
)
def test_bad_code_table_is_refused_with_file_place_and_allowed_values_and_nothing_applied(
    tmp_path, institution, code_tables, place, message
):
    text = "code_tables:\n  UserStatCategories:\n    - {code: ZQ}\n" + code_tables
    text += CONFIG.format(path=tmp_path)
    before = CodeTableEntry.objects.count()
    with pytest.raises(ConfigurationError) as caught:
        config_apply_file(institution=institution, path=write(tmp_path, text))
    error = str(caught.value)
    assert error.startswith(f"{tmp_path / 'patronsync.yaml'}: {place}: "), error
    assert message in error
    assert CodeTableEntry.objects.count() == before
    assert not CodeTableEntry.objects.filter(code="ZQ").exists()
    assert not Connection.objects.exists()


def test_error_in_a_profile_undoes_the_code_tables_of_the_same_file(tmp_path, institution):
    text = CODE_TABLES + CONFIG.format(path=tmp_path).replace("unmatched: REJECT", "unmatched: NO")
    with pytest.raises(ConfigurationError, match=r"profiles\[0\]\.synchronize"):
        config_apply_file(institution=institution, path=write(tmp_path, text))
    assert not CodeTableEntry.objects.filter(code="GRADSTUD").exists()


# Validation at the door -----------------------------------------------------------------------


def test_unknown_match_id_type_is_refused_naming_file_place_and_allowed_values(
    tmp_path, institution
):
    text = CONFIG.format(path=tmp_path).replace("match_id_type: UNIV_ID", "match_id_type: UNIV-ID")
    with pytest.raises(ConfigurationError) as caught:
        config_apply_file(institution=institution, path=write(tmp_path, text))
    error = str(caught.value)
    assert error.startswith(
        f"{tmp_path / 'patronsync.yaml'}: profiles[0].synchronize.match_id_type: 'UNIV-ID' is "
        "neither PRIMARY_ID nor an identifier type of institution main (did you mean UNIV_ID?)"
    ), error
    assert "expected PRIMARY_ID or one of the UserIdentifierTypes codes: BARCODE, UNIV_ID" in error
    assert not IntegrationProfile.objects.exists()
    assert not Connection.objects.exists()


def test_disabled_identifier_type_cannot_be_matched_on(tmp_path, institution):
    CodeTableEntry.objects.filter(
        institution=institution, table="UserIdentifierTypes", code="UNIV_ID"
    ).update(enabled=False)
    with pytest.raises(ConfigurationError, match="match_id_type: 'UNIV_ID' is neither"):
        config_apply_file(
            institution=institution, path=write(tmp_path, CONFIG.format(path=tmp_path))
        )


@pytest.mark.parametrize(("section", "value"), [("import", "1"), ("synchronize", '"3"')])
def test_xsd_version_other_than_2_is_refused(tmp_path, institution, section, value):
    text = CONFIG.format(path=tmp_path).replace(
        f"{section}:\n      active: true",
        f"{section}:\n      active: true\n      xsd_version: {value}",
    )
    with pytest.raises(ConfigurationError) as caught:
        config_apply_file(institution=institution, path=write(tmp_path, text))
    assert f"profiles[0].{section}.xsd_version: User XSD version" in str(caught.value)
    assert "expected 2" in str(caught.value)
    assert not IntegrationProfile.objects.exists()


def test_xsd_version_2_as_a_number_is_taken_and_applies_unchanged_the_second_time(
    tmp_path, institution
):
    text = CONFIG.format(path=tmp_path).replace(
        "import:\n      active: true", "import:\n      active: true\n      xsd_version: 2"
    )
    path = write(tmp_path, text)
    config_apply_file(institution=institution, path=path)
    assert config_apply_file(institution=institution, path=path)[-1] == "profile SIS: unchanged"
    assert IntegrationProfile.objects.get().import_xsd_version == "2"


NO_NAVIGATION = "    path: {path}\n    allow_navigation: false\n"


@pytest.mark.parametrize("input_path", ["../elsewhere", "/srv/other", "sync/../../up", ".."])
def test_input_path_leaving_a_connection_without_navigation_is_refused(
    tmp_path, institution, input_path
):
    text = (
        CONFIG.replace("    path: {path}\n", NO_NAVIGATION)
        .format(path=tmp_path)
        .replace("input_path: synchronize", f"input_path: {input_path}")
    )
    with pytest.raises(ConfigurationError) as caught:
        config_apply_file(institution=institution, path=write(tmp_path, text))
    error = str(caught.value)
    assert f"profiles[0].synchronize.input_path: '{input_path}' leaves the sub-directory" in error
    assert "connection 'local-drop', which does not allow navigation" in error
    assert not IntegrationProfile.objects.exists()


@pytest.mark.parametrize(
    ("navigation", "input_path"), [("false", "sync/../synchronize"), ("true", "../elsewhere")]
)
def test_input_path_is_taken_when_inside_or_when_navigation_is_allowed(
    tmp_path, institution, navigation, input_path
):
    text = (
        CONFIG.replace(
            "    path: {path}\n", f"    path: {{path}}\n    allow_navigation: {navigation}\n"
        )
        .format(path=tmp_path)
        .replace("input_path: synchronize", f"input_path: {input_path}")
    )
    assert config_apply_file(institution=institution, path=write(tmp_path, text))[-1] == (
        "profile SIS: created"
    )


def test_switching_navigation_off_under_a_profile_that_leaves_is_refused(tmp_path, institution):
    leaving = CONFIG.format(path=tmp_path).replace("input_path: import", "input_path: ../import")
    config_apply_file(institution=institution, path=write(tmp_path, leaving))
    switched = leaving.replace(f"    path: {tmp_path}\n", NO_NAVIGATION.format(path=tmp_path))
    with pytest.raises(
        ConfigurationError, match=r"profiles\[0\]\.import\.input_path: '\.\./import'"
    ):
        config_apply_file(institution=institution, path=write(tmp_path, switched))
    only_connection = switched[: switched.index("profiles:")]
    with pytest.raises(ConfigurationError) as caught:
        config_apply_file(institution=institution, path=write(tmp_path, only_connection))
    assert "connections[0].allow_navigation: Profile SIS's import.input_path" in str(caught.value)
    assert Connection.objects.get().allow_navigation is True


def test_take_over_users_is_off_unless_the_file_turns_it_on(tmp_path, institution):
    path = write(tmp_path, CONFIG.format(path=tmp_path))
    config_apply_file(institution=institution, path=path)
    assert IntegrationProfile.objects.get(code="SIS").sync_take_over_users is False
    text = CONFIG.format(path=tmp_path) + "      take_over_users: true\n"
    assert config_apply_file(institution=institution, path=write(tmp_path, text))[1] == (
        "profile SIS: updated"
    )
    assert IntegrationProfile.objects.get(code="SIS").sync_take_over_users is True


def test_take_over_users_that_is_not_a_boolean_is_refused_naming_its_place(tmp_path, institution):
    text = CONFIG.format(path=tmp_path) + "      take_over_users: perhaps\n"
    with pytest.raises(ConfigurationError) as caught:
        config_apply_file(institution=institution, path=write(tmp_path, text))
    assert "profiles[0].synchronize.take_over_users" in str(caught.value)
    assert not IntegrationProfile.objects.exists()
