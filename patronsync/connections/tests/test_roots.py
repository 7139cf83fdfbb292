"""PATRONSYNC_LOCAL_ROOTS: the folders each institution's local connections may use."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured, ValidationError

from patronsync.connections.checks import local_roots_check
from patronsync.connections.models import Connection
from patronsync.connections.roots import (
    local_folder_problem,
    local_path_allowed,
    local_roots_for,
    local_roots_parse,
)
from patronsync.connections.services import connection_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def roots(settings, tmp_path, institution, other_institution):
    """`main` owns tmp_path/sis (a parent of `branch`'s), `branch` owns tmp_path/sis/branch."""
    sis = tmp_path / "sis"
    (sis / "branch").mkdir(parents=True)
    settings.PATRONSYNC_LOCAL_ROOTS = f"main={sis},branch={sis}/branch"
    return sis


def test_folder_inside_an_institutions_root_is_allowed(roots, institution):
    assert local_path_allowed(institution=institution, path=roots / "2026" / "synchronize")
    assert local_path_allowed(institution=institution, path=roots)


def test_folder_outside_every_root_is_refused(roots, institution):
    assert not local_path_allowed(institution=institution, path=Path("/"))
    assert not local_path_allowed(institution=institution, path=roots.parent)
    assert not local_path_allowed(institution=institution, path=Path(f"{roots}-other"))


def test_the_most_specific_root_decides_so_a_parent_root_cannot_reach_a_members_folder(
    roots, institution, other_institution
):
    inner = roots / "branch" / "synchronize"
    assert not local_path_allowed(institution=institution, path=inner)
    assert local_path_allowed(institution=other_institution, path=inner)
    assert not local_path_allowed(institution=other_institution, path=roots / "synchronize")


def test_every_institution_entry_gives_each_its_own_folder_by_code(
    settings, tmp_path, institution, other_institution
):
    settings.PATRONSYNC_LOCAL_ROOTS = f"*={tmp_path}/{{code}}"
    assert local_roots_for(institution=other_institution) == [tmp_path / "branch"]
    assert local_path_allowed(institution=other_institution, path=tmp_path / "branch" / "x")
    assert not local_path_allowed(institution=other_institution, path=tmp_path / "main" / "x")


def test_empty_setting_allows_the_quick_starts_folder_and_one_folder_per_institution(
    settings, institution, other_institution
):
    settings.PATRONSYNC_LOCAL_ROOTS = ""
    sis = Path(settings.DATA_DIR).resolve() / "sis"
    assert local_path_allowed(institution=institution, path=sis / "synchronize")
    assert local_path_allowed(institution=other_institution, path=sis / "branch" / "import")
    assert not local_path_allowed(institution=institution, path=sis / "branch" / "import")
    assert not local_path_allowed(institution=other_institution, path=sis / "synchronize")
    assert not local_path_allowed(institution=institution, path=Path("/srv"))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("/srv/sis", "entry 1 '/srv/sis' is not CODE=FOLDER"),
        ("main=/srv/sis,branch=", "entry 2 'branch=' is not CODE=FOLDER"),
        ("main=srv/sis", "the folder must be an absolute path"),
        ("main=/srv/{code}", "{code} is only for the *= entry"),
    ],
)
def test_a_malformed_setting_is_refused_naming_the_entry(value, message):
    with pytest.raises(ImproperlyConfigured, match=message.replace("{", r"\{").replace("*", r"\*")):
        local_roots_parse(value)


def test_system_check_reports_a_malformed_setting(settings):
    settings.PATRONSYNC_LOCAL_ROOTS = "main:/srv/sis"
    errors = local_roots_check()
    assert [error.id for error in errors] == ["connections.E001"]
    assert "PATRONSYNC_LOCAL_ROOTS: entry 1 'main:/srv/sis'" in errors[0].msg


def test_local_connection_outside_its_roots_is_refused_when_saved(roots, other_institution):
    with pytest.raises(ValidationError) as refused:
        connection_create(
            institution=other_institution,
            values={"name": "steal", "transport": "local", "sub_directory": str(roots)},
            actor="branch-admin",
        )
    message = " ".join(refused.value.message_dict["sub_directory"])
    assert f"{str(roots)!r} is outside the folders institution branch may use" in message
    assert f"({roots}/branch)" in message
    assert "PATRONSYNC_LOCAL_ROOTS" in message
    assert not Connection.objects.exists()


def test_local_connection_to_the_root_of_the_server_is_refused(roots, institution):
    problem = local_folder_problem(institution=institution, folder="/")
    assert problem is not None
    assert problem.startswith("'/' is outside the folders institution main may use")


def test_relative_or_empty_folder_is_refused(roots, institution):
    assert "is not an absolute path" in str(
        local_folder_problem(institution=institution, folder="sis")
    )
    assert "needs its folder" in str(local_folder_problem(institution=institution, folder=""))


def test_symbolic_link_inside_a_root_that_leads_out_is_refused_when_saved(
    roots, institution, tmp_path
):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (roots / "shortcut").symlink_to(outside)
    problem = local_folder_problem(institution=institution, folder=str(roots / "shortcut"))
    assert problem is not None
    assert "is outside the folders institution main may use" in problem


def test_folder_with_a_nul_character_or_a_loop_of_links_is_refused(roots, institution):
    (roots / "loop").symlink_to(roots / "loop")
    for folder in (f"{roots}/a\0b", str(roots / "loop")):
        problem = local_folder_problem(institution=institution, folder=folder)
        assert problem is not None
        assert "cannot be resolved (a NUL character, or a loop of links)" in problem


def test_sftp_connection_is_not_checked_against_local_roots(roots, other_institution):
    connection = connection_create(
        institution=other_institution,
        values={
            "name": "campus",
            "transport": "sftp",
            "server": "sftp.uni.edu",
            "username": "library",
            "sub_directory": "/",
        },
        actor="branch-admin",
    )
    assert connection.pk is not None
