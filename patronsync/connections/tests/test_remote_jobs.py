"""Whole jobs on real servers (OpenSSH's sshd, pyftpdlib for FTPS and FTP): a zip uploaded to
the server goes through to the report and the `.handled` rename; the definition's limits, a
refused login, a server that stops mid-download and a rename that fails."""

from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from patronsync.connections.models import Connection
from patronsync.demo.services import demo_config
from patronsync.jobs.models import JobRecord, ReceivedFile
from patronsync.jobs.runner import job_run
from patronsync.jobs.selectors import job_report
from patronsync.jobs.services import job_approve, profile_run
from patronsync.loader.tests.conftest import make_profile, user_xml, users_doc, write_zip
from patronsync.patrons.models import Patron
from patronsync.profiles.models import IntegrationProfile
from patronsync.profiles.services import config_apply

from .servers import FtpServer, Relay, SshServer

pytestmark = pytest.mark.django_db

FOLDERS = {"synchronize": "synchronize", "import": "import"}  # the profile's input paths


@dataclass
class Remote:
    """A definition of a running test server, and the server's side of its sub-directory."""

    connection: Connection
    server: SshServer | FtpServer
    root: Path  # the definition's sub-directory, as a folder of this machine

    @property
    def kind(self) -> str:
        return self.connection.transport

    def upload(self, name: str, *ids: str, folder: str = "synchronize", padding: int = 0) -> Path:
        """A zip of users `ids` put on the server; `padding` bytes of comment make it big."""
        document = users_doc(*(user_xml(primary_id) for primary_id in ids))
        if padding:
            document = document.replace(
                "</users>", f"<!-- {secrets.token_hex(padding // 2)} -->\n</users>"
            )
        return write_zip(self.root / folder / name, {"users.xml": document})

    def waiting(self, folder: str = "synchronize") -> list[str]:
        return sorted(path.name for path in (self.root / folder).iterdir())

    def change(self, **fields) -> None:
        Connection.objects.filter(pk=self.connection.pk).update(**fields)
        self.connection.refresh_from_db()

    def stop_during_next_download(self) -> None:
        """The server stops once the next download is well under way."""
        if isinstance(self.server, SshServer):
            relay = Relay(self.server.port, after=400_000, then=self.server.stop)
            self.change(port=relay.port)
        else:
            self.server.die_during_next_download(after=400_000)

    def start_again(self) -> None:
        self.server.start()
        self.change(port=self.server.port)


@pytest.fixture(params=["sftp", "ftps", "ftp"])
def remote(request, sshd: SshServer) -> Remote:
    connection = request.getfixturevalue(f"{request.param}_connection")
    if request.param == "sftp":
        return Remote(connection, sshd, sshd.upload)
    server = request.getfixturevalue(f"{request.param}_server")
    return Remote(connection, server, server.home)


def profile_reading(institution, connection: Connection) -> IntegrationProfile:
    """The quick start's profile `SIS`, reading `synchronize` and `import` of `connection`."""
    document = demo_config(Path("/unused"))
    del document["connections"]
    document["profiles"][0]["connection"] = connection.name
    config_apply(institution=institution, document=document)
    return IntegrationProfile.objects.get(institution=institution, code="SIS")


@pytest.fixture
def profile(institution, remote: Remote) -> IntegrationProfile:
    return profile_reading(institution, remote.connection)


def problem_codes(job, name: str) -> list[str]:
    [entry] = [entry for entry in job.files if entry["name"] == name]
    return [problem["code"] for problem in entry["problems"]]


@pytest.mark.parametrize("kind", ["synchronize", "import"])
def test_an_uploaded_zip_goes_through_to_the_report_and_the_handled_rename(remote, profile, kind):
    remote.upload("students.zip", "s1", "s2", "s3", folder=FOLDERS[kind])

    job = profile_run(profile=profile, kind=kind)

    report = job_report(job=job)
    assert report["status"] == "completed", job.log
    assert (report["created"], report["updated"], report["rejected"]) == (3, 0, 0)
    assert report["total_users_processed"] == 3
    [entry] = report["files"]
    assert (entry["name"], entry["users"], entry["problems"]) == ("students.zip", 3, [])
    assert remote.waiting(FOLDERS[kind]) == ["students.zip.handled"]
    [taking] = ReceivedFile.objects.all()
    assert (taking.status, taking.users, taking.mark_error) == ("handled", 3, "")
    assert Patron.objects.count() == 3
    if remote.kind != "ftp":  # SFTP's host key, FTPS's certificate
        remote.connection.refresh_from_db()
        assert remote.connection.host_key_fingerprint.startswith("SHA256:")

    again = profile_run(profile=profile, kind=kind)
    assert again.status == "completed"
    assert f"No new zip files in {FOLDERS[kind]}" in again.log


def test_over_the_maximum_number_of_files_the_first_ones_are_taken_and_the_rest_wait(
    remote, profile
):
    remote.change(max_files=2)
    for name, user in (("a.zip", "u1"), ("b.zip", "u2"), ("c.zip", "u3")):
        remote.upload(name, user)

    job = profile_run(profile=profile, kind="synchronize")

    assert job.status == "completed_with_errors"
    assert job.created == 2
    assert "More than 2 zip files (the maximum number of files of connection" in job.log
    assert "left for the next run: c.zip" in job.log
    assert problem_codes(job, "c.zip") == ["LEFT_FOR_NEXT_RUN"]
    assert remote.waiting() == ["a.zip.handled", "b.zip.handled", "c.zip"]

    # The next run's feed is the one file left: a third of the last run's users, which the
    # mass-change guard (on) holds as a shrunken feed; approved, it loads the file.
    held = profile_run(profile=profile, kind="synchronize")
    assert held.status == "held"
    assert remote.waiting() == ["a.zip.handled", "b.zip.handled", "c.zip"]
    job_approve(job=held, actor="desk")
    later = job_run(job=held)
    assert (later.status, later.created) == ("completed", 1)
    assert remote.waiting() == ["a.zip.handled", "b.zip.handled", "c.zip.handled"]


def test_fewer_files_than_the_minimum_takes_none_and_says_so(remote, profile):
    remote.change(min_files=3)
    remote.upload("a.zip", "u1")
    remote.upload("b.zip", "u2")

    job = profile_run(profile=profile, kind="synchronize")

    assert job.status == "completed_with_errors"
    assert "2 zip file(s) in synchronize, fewer than the minimum number of files" in job.log
    assert "(3); none is taken, they wait for the next run" in job.log
    assert problem_codes(job, "a.zip") == problem_codes(job, "b.zip") == ["TOO_FEW_FILES"]
    assert not Patron.objects.exists()
    assert not ReceivedFile.objects.exists()
    assert remote.waiting() == ["a.zip", "b.zip"]


def test_a_file_over_the_size_limit_is_not_downloaded(remote, profile):
    remote.change(max_file_size=2, size_type="KB")
    remote.upload("big.zip", "u1", padding=4000)
    remote.upload("small.zip", "u2")

    job = profile_run(profile=profile, kind="synchronize")

    assert job.status == "completed_with_errors"
    assert job.created == 1
    assert problem_codes(job, "big.zip") == ["FILE_TOO_LARGE"]
    assert "over the connection's limit of 2,048; not taken" in job.log
    assert [t.name for t in ReceivedFile.objects.all()] == ["small.zip"]
    assert remote.waiting() == ["big.zip", "small.zip.handled"]


def test_a_wrong_password_fails_the_job_at_once_without_the_password(remote, profile):
    wrong = "Wr0ng-" + secrets.token_hex(6)
    remote.change(password=wrong)
    remote.upload("students.zip", "s1")

    job = profile_run(profile=profile, kind="synchronize")

    assert job.status == "failed"
    assert f"the server refused the login of {remote.connection.username}" in job.log
    assert "trying again" not in job.log  # a refused login is not retried
    assert wrong not in job.log
    assert wrong not in str(job.files)
    assert remote.waiting() == ["students.zip"]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # paramiko
def test_a_server_stopped_mid_download_loads_nothing_and_the_next_run_loads_the_file_whole(
    remote, profile
):
    remote.upload("students.zip", "s1", "s2", "s3", padding=1_500_000)
    remote.stop_during_next_download()

    job = profile_run(profile=profile, kind="synchronize")

    assert job.status == "failed"
    assert "attempt 1 of 3 failed, trying again" in job.log  # the drop was retried
    assert problem_codes(job, "students.zip") == ["NOT_DOWNLOADED"]
    assert not Patron.objects.exists()
    assert not ReceivedFile.objects.exists()
    assert not JobRecord.objects.exists()
    assert remote.waiting() == ["students.zip"]

    remote.start_again()
    later = profile_run(profile=profile, kind="synchronize")

    assert later.status == "completed", later.log
    assert later.created == 3
    assert remote.waiting() == ["students.zip.handled"]
    [taking] = ReceivedFile.objects.all()
    assert taking.size == (remote.root / "synchronize" / "students.zip.handled").stat().st_size


def test_a_failed_rename_is_reported_and_the_next_runs_rename_the_file_without_loading_it(
    remote, profile
):
    remote.upload("students.zip", "s1", "s2")
    (remote.root / "synchronize" / "students.zip.handled").mkdir()  # in the way of the rename

    job = profile_run(profile=profile, kind="synchronize")

    assert job.status == "completed_with_errors"
    assert job.created == 2
    assert problem_codes(job, "students.zip") == ["NOT_MARKED_HANDLED"]
    assert "its users are in, but it could not be renamed students.zip.handled" in job.log
    [taking] = ReceivedFile.objects.all()
    assert taking.status == "handled"
    assert taking.mark_error

    again = profile_run(profile=profile, kind="synchronize")

    assert again.status == "completed_with_errors"
    assert again.total_records_processed == 0  # not loaded twice
    assert problem_codes(again, "students.zip") == ["NOT_MARKED_HANDLED"]
    assert f"loaded by job {job.id}" in again.log
    assert ReceivedFile.objects.count() == 1

    shutil.rmtree(remote.root / "synchronize" / "students.zip.handled")
    fixed = profile_run(profile=profile, kind="synchronize")

    assert fixed.status == "completed"
    assert fixed.total_records_processed == 0
    assert "students.zip: renamed students.zip.handled" in fixed.log
    assert remote.waiting() == ["students.zip.handled"]
    taking.refresh_from_db()
    assert taking.mark_error == ""
    assert Patron.objects.count() == 2


def test_a_new_export_with_the_name_and_size_of_a_file_waiting_for_its_rename_is_loaded(
    remote, profile
):
    first_zip = remote.upload("students.zip", "s1", "s2")
    (remote.root / "synchronize" / "students.zip.handled").mkdir()  # in the way of the rename
    first = profile_run(profile=profile, kind="synchronize")
    assert (first.status, first.created) == ("completed_with_errors", 2)
    shutil.rmtree(remote.root / "synchronize" / "students.zip.handled")
    size = first_zip.stat().st_size
    remote.upload("students.zip", "t1", "t2")  # the next export: other users, the same size
    assert first_zip.stat().st_size == size

    later = profile_run(profile=profile, kind="synchronize")

    assert (later.status, later.created) == ("completed", 2), later.log
    assert "was replaced on the server by a file of other content" in later.log
    assert remote.waiting() == ["students.zip.handled"]
    assert set(Patron.objects.values_list("primary_id", flat=True)) == {"s1", "s2", "t1", "t2"}
    assert not ReceivedFile.objects.exclude(mark_error="").exists()


def test_a_read_only_folder_on_the_sftp_server_keeps_the_file_from_being_loaded_twice(
    institution, sftp_connection, sshd
):
    profile = profile_reading(institution, sftp_connection)
    write_zip(sshd.upload / "synchronize" / "students.zip", {"u.xml": users_doc(user_xml("s1"))})
    (sshd.upload / "synchronize").chmod(0o555)  # the account may read, not rename
    try:
        job = profile_run(profile=profile, kind="synchronize")
        again = profile_run(profile=profile, kind="synchronize")
    finally:
        (sshd.upload / "synchronize").chmod(0o755)

    assert (job.status, job.created) == ("completed_with_errors", 1)
    assert "permission denied" in ReceivedFile.objects.get().mark_error.lower()
    assert again.total_records_processed == 0
    assert problem_codes(again, "students.zip") == ["NOT_MARKED_HANDLED"]


@pytest.mark.parametrize("transport", ["local", "sftp", "ftps", "ftp"])
def test_an_input_path_that_climbs_out_of_the_sub_directory_fails_the_job(
    transport, request, institution, tmp_path
):
    """The profile was saved while the definition allowed navigation; it no longer does."""
    if transport == "local":
        for folder in ("synchronize", "import"):
            (tmp_path / folder).mkdir()
        profile = make_profile(institution, tmp_path)
        connection = profile.connection
    else:
        connection = request.getfixturevalue(f"{transport}_connection")
        profile = profile_reading(institution, connection)
    Connection.objects.filter(pk=connection.pk).update(allow_navigation=False)
    IntegrationProfile.objects.filter(pk=profile.pk).update(sync_input_path="../../etc")
    profile.refresh_from_db()

    job = profile_run(profile=profile, kind="synchronize")

    assert job.status == "failed"
    assert "'../../etc' leaves the sub-directory" in job.log
    assert "does not allow navigation" in job.log
    assert not ReceivedFile.objects.exists()


def test_a_local_input_folder_that_is_a_link_out_of_the_connections_folder_is_refused(
    institution, tmp_path
):
    """Navigation off confines the local folder transport too, links included."""
    drop, elsewhere = tmp_path / "drop", tmp_path / "elsewhere"
    for folder in (drop / "import", drop / "synchronize", elsewhere):
        folder.mkdir(parents=True)
    write_zip(elsewhere / "other.zip", {"u.xml": users_doc(user_xml("x1"))})
    (drop / "synchronize").rmdir()
    (drop / "synchronize").symlink_to(elsewhere)
    profile = make_profile(institution, drop)
    Connection.objects.filter(pk=profile.connection_id).update(allow_navigation=False)

    job = profile_run(profile=profile, kind="synchronize")

    assert job.status == "failed"
    assert f"'synchronize' leads to {elsewhere}, outside {drop} (a symbolic link)" in job.log
    assert not Patron.objects.exists()
    assert (elsewhere / "other.zip").exists()
