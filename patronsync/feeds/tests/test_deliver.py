"""``patronsync feed deliver``: zips uploaded whole to a definition's input folder on real
servers (OpenSSH's sshd, pyftpdlib for FTPS and FTP, a local folder), silent from cron, with the
documented exit codes; an interrupted upload leaves nothing a profile takes; and, end to end, a
delivered feed that a profile then synchronizes."""

from __future__ import annotations

import json
import secrets
import socket
import zipfile
from pathlib import Path

import pytest

from patronsync.connections.models import Connection
from patronsync.connections.tests.conftest import (
    allowed,
    certificate,
    ftp_connection,
    ftp_server,
    ftp_servers,
    ftps_connection,
    ftps_server,
    quick_retries,
    sftp_connection,
    sshd,
    sshd_server,
)
from patronsync.connections.tests.servers import Relay, SshServer
from patronsync.connections.tests.test_remote_jobs import profile_reading, remote
from patronsync.connections.transports import transport_for
from patronsync.connections.transports.base import upload_part_name
from patronsync.feeds.commands import main
from patronsync.feeds.pack import feed_pack
from patronsync.feeds.sample import write_sample_feed
from patronsync.jobs.models import JobRecord, ReceivedFile
from patronsync.jobs.selectors import job_report
from patronsync.jobs.services import profile_run
from patronsync.loader.tests.conftest import user_xml, users_doc, write_zip
from patronsync.patrons.models import Patron

# The servers' fixtures, shared with the transport tests.
__all__ = [
    "allowed", "certificate", "ftp_connection", "ftp_server", "ftp_servers", "ftps_connection",
    "ftps_server", "quick_retries", "remote", "sftp_connection", "sshd", "sshd_server",
]  # fmt: skip

pytestmark = pytest.mark.django_db


def deliver(*args: str | Path) -> int:
    return main(["feed", "deliver", *map(str, args)])


@pytest.fixture
def zips(tmp_path) -> list[Path]:
    """Two packed zips of 60 sample users (2 files of 15 users each)."""
    export = tmp_path / "export.zip"
    write_sample_feed(export, 60, seed=3, users_per_file=60)
    result = feed_pack([export], output=tmp_path / "packed", users_per_file=15,
                       max_files_per_zip=2)  # fmt: skip
    return [result.output / z.name for z in result.zips]


def listed(connection: Connection, folder: str) -> list[str]:
    """What a profile's job would take from `folder`: the transport's listing."""
    with transport_for(connection) as transport:
        return [f.name for f in transport.list(folder)]


def test_each_zip_arrives_whole_under_its_name_and_nothing_is_printed(remote, zips, capsys):
    assert deliver("--connection", remote.connection.name, "--path", "synchronize", *zips) == 0

    assert capsys.readouterr() == ("", "")
    assert remote.waiting() == ["users-0001.zip", "users-0002.zip"]  # no .part left
    for path in zips:
        assert (remote.root / "synchronize" / path.name).read_bytes() == path.read_bytes()
    assert listed(remote.connection, "synchronize") == ["users-0001.zip", "users-0002.zip"]


def test_a_delivery_replaces_a_waiting_file_of_the_same_name(remote, zips):
    stale = remote.upload("users-0001.zip", "old1")

    assert deliver("--connection", remote.connection.name, "--path", "synchronize", zips[0]) == 0

    assert stale.read_bytes() == zips[0].read_bytes()
    assert remote.waiting() == ["users-0001.zip"]


def test_a_pack_folder_delivers_the_zips_its_manifest_lists(sftp_connection, sshd, zips):
    (zips[0].parent / "notes.txt").write_text("not delivered")

    assert deliver("--connection", sftp_connection.name, "--path", "synchronize",
                   zips[0].parent) == 0  # fmt: skip

    arrived = sorted(p.name for p in (sshd.upload / "synchronize").iterdir())
    assert arrived == ["users-0001.zip", "users-0002.zip"]


def test_a_zip_that_is_not_the_one_its_manifest_describes_is_not_sent(sftp_connection, sshd,
                                                                      zips, capsys):  # fmt: skip
    data = bytearray(zips[1].read_bytes())
    data[40] ^= 0xFF  # a changed byte: same size, another sha256
    zips[1].write_bytes(bytes(data))

    assert deliver("--connection", sftp_connection.name, zips[0].parent) == 3

    assert "users-0002.zip: not the file manifest.json describes" in capsys.readouterr().err
    assert list((sshd.upload).glob("*.zip")) == []


def test_verbose_says_what_was_delivered_where(sftp_connection, zips, capsys):
    assert deliver("--connection", sftp_connection.name, "--path", "import", "-v", zips[0]) == 0

    out = capsys.readouterr().out
    size = zips[0].stat().st_size
    assert f"delivered users-0001.zip ({size:,} bytes) to connection campus-sftp, folder " in out
    assert "/upload/import" in out


def test_transports_upload_under_a_part_name_and_rename_on_each_server(remote, tmp_path):
    source = write_zip(tmp_path / "a.zip", {"a.xml": users_doc(user_xml("s1"))})
    with transport_for(remote.connection) as transport:
        uploaded = transport.upload("import", "a.zip", source)
        transport.rename("import", "a.zip", "b.zip")
        names = [f.name for f in transport.list("import")]

    assert (uploaded.name, uploaded.size) == ("a.zip", source.stat().st_size)
    assert names == ["b.zip"]
    assert remote.waiting("import") == ["b.zip"]


def test_the_profile_and_section_name_the_folder(sftp_connection, institution, sshd, zips):
    profile_reading(institution, sftp_connection)

    assert deliver("--profile", "SIS", "--section", "import", zips[0]) == 0

    assert sorted(p.name for p in (sshd.upload / "import").iterdir()) == ["users-0001.zip"]
    assert list((sshd.upload / "synchronize").iterdir()) == []


def test_a_local_folder_connection_is_delivered_to(settings, tmp_path, institution, zips):
    root = tmp_path / "drop"
    (root / "synchronize").mkdir(parents=True)
    settings.PATRONSYNC_LOCAL_ROOTS = f"main={root}"
    Connection.objects.create(institution=institution, name="folder", transport="local",
                              sub_directory=str(root))  # fmt: skip

    assert deliver("--connection", "folder", "--path", "synchronize", *zips) == 0

    assert sorted(p.name for p in (root / "synchronize").iterdir()) == [p.name for p in zips]
    assert (root / "synchronize" / zips[1].name).read_bytes() == zips[1].read_bytes()


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda d: d / "missing.zip", "missing.zip: no such file; nothing was delivered"),
        (lambda d: _write(d / "notes.zip", b"hello"), "notes.zip: not a zip file"),
        (lambda d: write_zip(d / "empty.zip", {"readme.txt": "x"}), "without any XML file"),
        (lambda d: _write(d / "feed.xml", b"<users/>"), "not named *.zip"),
        (lambda d: write_zip(d / "many.zip", {f"u{i}.xml": "<users/>" for i in range(51)}),
         "over the limit of 50"),
    ],
)  # fmt: skip
def test_a_bad_file_exits_3_and_nothing_is_sent(sftp_connection, sshd, zips, tmp_path, capsys,
                                                make, words):  # fmt: skip
    bad = make(tmp_path)

    assert deliver("--connection", sftp_connection.name, "--path", "synchronize", zips[0], bad) == 3

    assert words in capsys.readouterr().err
    assert list((sshd.upload / "synchronize").iterdir()) == []  # not even the good first one


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_a_zip_over_the_definitions_maximum_size_exits_3(sftp_connection, zips, capsys):
    Connection.objects.filter(pk=sftp_connection.pk).update(max_file_size=1, size_type="KB")

    assert deliver("--connection", sftp_connection.name, zips[0]) == 3
    assert "over the maximum file size of connection campus-sftp (1 KB)" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (["--connection", "nowhere"], "has no connection 'nowhere'; its connections: campus-sftp"),
        (["--profile", "NOPE", "--section", "import"], "has no profile 'NOPE'"),
        (["--profile", "SIS"], "--profile needs --section"),
        (["--profile", "SIS", "--section", "import", "--path", "x"], "exclude each other"),
        (["--section", "import", "--connection", "campus-sftp"], "--section needs --profile"),
        ([], "give --connection NAME"),
        (["--connection", "campus-sftp", "--institution", "zzz"], "no institution with code"),
    ],
)
def test_bad_usage_exits_2_naming_the_option(sftp_connection, institution, zips, capsys,
                                             options, words):  # fmt: skip
    profile_reading(institution, sftp_connection)

    assert deliver(*options, zips[0]) == 2
    assert words in capsys.readouterr().err


def test_a_refused_login_exits_4_without_the_password(sftp_connection, zips, capsys):
    wrong = "Wr0ng-" + secrets.token_hex(6)
    Connection.objects.filter(pk=sftp_connection.pk).update(password=wrong)

    assert deliver("--connection", sftp_connection.name, zips[0]) == 4

    err = capsys.readouterr().err
    assert f"the server refused the login of {sftp_connection.username}" in err
    assert wrong not in err


def test_a_server_that_is_not_there_exits_4(sftp_connection, zips, capsys):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: the connection is refused
        Connection.objects.filter(pk=sftp_connection.pk).update(port=port)

        assert deliver("--connection", sftp_connection.name, zips[0]) == 4
    assert "the connection was refused" in capsys.readouterr().err


def test_a_folder_the_server_does_not_have_exits_5(sftp_connection, zips, capsys):
    assert deliver("--connection", sftp_connection.name, "--path", "elsewhere", zips[0]) == 5
    assert "nothing delivered" in capsys.readouterr().err


class UploadRelay(Relay):
    """A relay that trips on the bytes sent to the server: a connection lost mid-upload."""

    def _pump(self, source: socket.socket, target: socket.socket, counted: bool) -> None:
        super()._pump(source, target, not counted)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # paramiko
def test_an_interrupted_upload_leaves_no_file_a_profile_takes(
    sftp_connection, sshd: SshServer, institution, tmp_path, capsys
):
    profile = profile_reading(institution, sftp_connection)
    big = write_zip(tmp_path / "students.zip", {"a.xml": users_doc(user_xml("s1")).replace(
        "</users>", f"<!-- {secrets.token_hex(1_000_000)} -->\n</users>")})  # fmt: skip
    relay = UploadRelay(sshd.port, after=400_000, then=sshd.stop)
    Connection.objects.filter(pk=sftp_connection.pk).update(port=relay.port)
    server = sshd.process
    assert server is not None

    code = deliver("--profile", "SIS", "--section", "synchronize", big)

    relay.close()
    # The server went away: refused on the retry (4), or paramiko's "Socket is closed" at once
    # (5), depending on where the upload was when it noticed. Either way it failed.
    assert code in (4, 5), capsys.readouterr().err
    assert relay.tripped.is_set()
    server.wait(timeout=30)  # stopped by the relay's thread: only then is it started again
    sshd.start()
    Connection.objects.filter(pk=sftp_connection.pk).update(port=sshd.port)
    sftp_connection.refresh_from_db()
    arrived = [p.name for p in (sshd.upload / "synchronize").iterdir()]
    assert arrived in ([], [upload_part_name("students.zip")])  # at most the part, never the zip
    assert listed(sftp_connection, "synchronize") == []
    job = profile_run(profile=profile, kind="synchronize")
    assert "No new zip files in synchronize" in job.log
    assert not Patron.objects.exists()

    assert deliver("--profile", "SIS", "--section", "synchronize", big) == 0  # the next run
    assert [p.name for p in (sshd.upload / "synchronize").iterdir()] == ["students.zip"]
    assert (sshd.upload / "synchronize" / "students.zip").read_bytes() == big.read_bytes()


def test_a_packed_feed_delivered_to_sshd_is_synchronized_by_the_profile_reading_it(
    sftp_connection, sshd: SshServer, institution, tmp_path, capsys
):
    """The issue's end-to-end test: export, pack, deliver, and the profile's Synchronize."""
    profile = profile_reading(institution, sftp_connection)
    export = tmp_path / "export.zip"
    write_sample_feed(export, 250, seed=5, users_per_file=250)
    out = tmp_path / "tonight"
    assert main(["feed", "pack", str(export), "-o", str(out), "--users-per-file", "40",
                 "--files-per-zip", "3", "-q"]) == 0  # fmt: skip
    manifest = json.loads((out / "manifest.json").read_text())
    names = [z["name"] for z in manifest["zips"]]
    assert len(names) == 3  # 7 files of at most 40 users, 3 a zip

    assert deliver("--profile", "SIS", "--section", "synchronize",
                   *(out / name for name in names)) == 0  # fmt: skip
    assert capsys.readouterr() == ("", "")

    job = profile_run(profile=profile, kind="synchronize")

    report = job_report(job=job)
    rejected = JobRecord.objects.filter(job=job, outcome="rejected")
    assert not rejected.exists(), list(rejected.values_list("reason_code", "reason")[:5])
    assert report["status"] == "completed", job.log
    assert (report["created"], report["updated"], report["rejected"]) == (250, 0, 0)
    assert [(f["name"], f["users"]) for f in report["files"]] == [
        (z["name"], z["users"]) for z in manifest["zips"]
    ]
    assert sorted(p.name for p in (sshd.upload / "synchronize").iterdir()) == [
        f"{name}.handled" for name in names
    ]
    assert Patron.objects.filter(institution=institution).count() == 250
    taken = {f.name: f.sha256 for f in ReceivedFile.objects.all()}
    assert taken == {z["name"]: z["sha256"] for z in manifest["zips"]}  # the manifest's sums
    with zipfile.ZipFile(out / names[0]) as zf:
        assert len(zf.namelist()) == 3
