"""The local transport lists, reads and renames nothing outside its institution's roots."""

from __future__ import annotations

from pathlib import Path

import pytest

from patronsync.connections.models import Connection
from patronsync.connections.transports import transport_for
from patronsync.core.exceptions import ConfigurationError
from patronsync.jobs.services import profile_run
from patronsync.loader.tests.conftest import make_profile, user_xml, users_doc, write_zip
from patronsync.patrons.models import Patron
from patronsync.profiles.services import config_apply

pytestmark = pytest.mark.django_db


@pytest.fixture
def folders(settings, tmp_path, institution, other_institution):
    """Drop folders of `main` and `branch`, each its institution's only root."""
    main, branch = tmp_path / "main", tmp_path / "branch"
    for root in (main, branch):
        for folder in ("import", "synchronize"):
            (root / folder).mkdir(parents=True)
    settings.PATRONSYNC_LOCAL_ROOTS = f"main={main},branch={branch}"
    return main, branch


def feed(folder: Path, name: str = "students.zip", *ids: str) -> Path:
    users = users_doc(*(user_xml(primary_id) for primary_id in ids or ("s1", "s2")))
    return write_zip(folder / name, {"students.xml": users})


def legacy_connection(institution, folder: Path) -> Connection:
    """A connection saved before the roots existed (nothing checked it when it was saved)."""
    connection = Connection(
        institution=institution, name="legacy", transport="local", sub_directory=str(folder)
    )
    connection.save()
    return connection


def test_job_of_a_connection_into_another_institutions_folder_fails_and_takes_nothing(
    folders, other_institution
):
    main, branch = folders
    victim = feed(main / "synchronize")
    profile = make_profile(other_institution, branch)
    legacy = legacy_connection(other_institution, main)
    profile.connection = legacy
    profile.save()

    job = profile_run(profile=profile, kind="synchronize")

    assert job.status == "failed"
    assert "is outside the folders institution branch may use" in job.log
    assert not Patron.objects.exists()
    assert victim.exists()  # not renamed .handled: main's own next run still finds it


def test_profile_input_path_that_climbs_into_another_institutions_folder_is_refused_at_run(
    folders, other_institution
):
    main, branch = folders
    victim = feed(main / "synchronize")
    profile = make_profile(other_institution, branch, input_path="../main/synchronize")

    job = profile_run(profile=profile, kind="synchronize")

    assert job.status == "failed"
    assert not Patron.objects.exists()
    assert victim.exists()


def test_input_folder_that_is_a_link_out_of_the_roots_is_refused(folders, institution, tmp_path):
    main, _ = folders
    outside = tmp_path / "outside"
    outside.mkdir()
    feed(outside)
    (main / "linked").symlink_to(outside)
    transport = transport_for(legacy_connection(institution, main))

    with pytest.raises(ConfigurationError, match="is outside the folders institution main"):
        transport.list("linked")


def test_zip_that_links_out_of_the_folder_is_refused_and_its_target_is_untouched(
    folders, institution
):
    main, branch = folders
    target = feed(branch / "synchronize", "branch.zip")
    (main / "synchronize" / "stolen.zip").symlink_to(target)
    profile = make_profile(institution, main)

    job = profile_run(profile=profile, kind="synchronize")

    assert job.status == "failed"
    assert "stolen.zip in" in job.log
    assert "is a symbolic link that leads out of the folder" in job.log
    assert not Patron.objects.exists()
    assert target.exists()
    assert (main / "synchronize" / "stolen.zip").is_symlink()


def test_zip_that_links_to_a_file_of_the_same_folder_is_taken(folders, institution):
    main, _ = folders
    real = feed(main / "synchronize", "2026-12-01.zip")
    (main / "synchronize" / "latest.zip").symlink_to(real)
    transport = transport_for(legacy_connection(institution, main))

    names = [remote.name for remote in transport.list("synchronize")]

    assert names == ["2026-12-01.zip", "latest.zip"]
    assert transport.fetch("synchronize", "latest.zip", main) == real
    transport.mark_handled("synchronize", "latest.zip")
    assert (main / "synchronize" / "latest.zip.handled").is_symlink()
    assert real.exists()


def test_zip_link_that_loops_is_refused_like_one_that_leads_out(folders, institution):
    main, _ = folders
    loop = main / "synchronize" / "loop.zip"
    loop.symlink_to(loop)
    transport = transport_for(legacy_connection(institution, main))

    with pytest.raises(ConfigurationError, match=r"loop\.zip in .* leads out of the folder"):
        transport.list("synchronize")


def test_file_names_with_a_path_are_neither_read_nor_renamed(folders, institution):
    main, branch = folders
    victim = feed(branch / "synchronize", "branch.zip")
    transport = transport_for(legacy_connection(institution, main))
    escape = "../../branch/synchronize/branch.zip"

    with pytest.raises(ConfigurationError, match="is not a file name"):
        transport.fetch("synchronize", escape, main)
    with pytest.raises(ConfigurationError, match="is not a file name"):
        transport.mark_handled("synchronize", escape)
    assert victim.exists()


def test_a_folder_inside_the_roots_is_listed_read_and_marked(folders, institution):
    main, _ = folders
    taken = feed(main / "synchronize")
    profile = make_profile(institution, main)

    job = profile_run(profile=profile, kind="synchronize")

    assert job.status == "completed"
    assert Patron.objects.count() == 2
    assert not taken.exists()
    assert (main / "synchronize" / "students.zip.handled").exists()


def test_config_apply_refuses_a_local_folder_outside_the_roots(folders, other_institution):
    main, _ = folders
    document = {"connections": [{"name": "steal", "type": "local", "path": str(main)}]}

    with pytest.raises(ConfigurationError) as refused:
        config_apply(institution=other_institution, document=document, source="evil.yaml")

    assert str(refused.value).startswith("evil.yaml: connections[0].path: ")
    assert "is outside the folders institution branch may use" in str(refused.value)
    assert not Connection.objects.filter(name="steal").exists()
