"""Secrets at rest: several encryption keys (the first encrypts, all decrypt) and their
rotation with `patronsync secrets rotate`, which re-encrypts every encrypted column."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection as db

from patronsync.cli import main
from patronsync.connections.models import Connection
from patronsync.connections.services import connection_create, connection_test, connection_update
from patronsync.core.crypto import decrypt, encrypt, encrypted_fields, secrets_rotate
from patronsync.core.exceptions import ConfigurationError
from patronsync.demo.services import demo_config
from patronsync.jobs.choices import JobStatus
from patronsync.jobs.services import profile_run
from patronsync.profiles.models import IntegrationProfile
from patronsync.profiles.services import config_apply

pytestmark = pytest.mark.django_db

KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()
PASSWORD = "Pa55word-of-the-SIS-server"


def stored() -> list[tuple[str, str]]:
    """The encrypted columns as the database holds them."""
    with db.cursor() as cursor:
        cursor.execute("SELECT password, private_key FROM connections_connection ORDER BY name")
        return cursor.fetchall()


@pytest.fixture
def definitions(settings, institution):
    """An sftp definition (password and generated private key) and an ftp one (password only),
    saved with key A."""
    settings.ENCRYPTION_KEY = KEY_A
    for name, transport in (("campus", "sftp"), ("registrar", "ftp")):
        connection_create(
            institution=institution,
            values={
                "name": name,
                "transport": transport,
                "server": "h.example.edu",
                "username": "library",
                "password": PASSWORD,
            },
            actor="tests",
        )
    return settings


def test_every_encrypted_column_is_found():
    labels = {f"{model._meta.label}.{field.name}" for model, field in encrypted_fields()}
    assert {"connections.Connection.password", "connections.Connection.private_key"} <= labels


def test_the_first_key_encrypts_and_every_key_decrypts(settings):
    settings.ENCRYPTION_KEY = KEY_A
    token = encrypt("secret")
    settings.ENCRYPTION_KEY = f"{KEY_B}, {KEY_A}"
    assert decrypt(token) == "secret"
    newer = encrypt("secret")
    with pytest.raises(InvalidToken):
        Fernet(KEY_A.encode()).decrypt(newer.encode())
    assert Fernet(KEY_B.encode()).decrypt(newer.encode()) == b"secret"


def test_a_key_that_is_not_a_fernet_key_is_named_by_its_position(settings):
    settings.ENCRYPTION_KEY = f"{KEY_B},not-a-key"
    with pytest.raises(ImproperlyConfigured) as error:
        encrypt("secret")
    assert "PATRONSYNC_ENCRYPTION_KEY: key 2 of 2 is not 32 url-safe" in str(error.value)
    assert "not-a-key" not in str(error.value)


def test_rotation_re_encrypts_with_the_new_key_so_the_old_one_can_go(definitions, capsys):
    private_key = Connection.objects.get(name="campus").private_key
    before = stored()
    definitions.ENCRYPTION_KEY = f"{KEY_B},{KEY_A}"
    assert main(["secrets", "rotate"]) == 0
    out = capsys.readouterr().out
    assert "connections.Connection.password: 2 re-encrypted, 0 already with the first key, " in out
    assert "connections.Connection.private_key: 1 re-encrypted, 0 already with the first key, " in (
        out
    )
    assert PASSWORD not in out
    after = stored()
    assert after != before
    for password_token, _ in after:
        Fernet(KEY_B.encode()).decrypt(password_token.encode())

    definitions.ENCRYPTION_KEY = KEY_B  # the old key is dropped
    assert [c.password for c in Connection.objects.all()] == [PASSWORD, PASSWORD]
    assert Connection.objects.get(name="campus").private_key == private_key


def test_a_second_rotation_changes_nothing(definitions):
    definitions.ENCRYPTION_KEY = f"{KEY_B},{KEY_A}"
    secrets_rotate()
    after_first = stored()
    counts = {count.label: count for count in secrets_rotate()}
    assert counts["connections.Connection.password"].rotated == 0
    assert counts["connections.Connection.password"].current == 2
    assert counts["connections.Connection.private_key"].empty == 1
    assert stored() == after_first


def test_a_secret_no_key_opens_stops_the_rotation_and_nothing_changes(definitions, capsys):
    before = stored()
    definitions.ENCRYPTION_KEY = KEY_B  # key A forgotten
    assert main(["secrets", "rotate"]) == 2
    error = capsys.readouterr().err
    assert "cannot be decrypted with any key of PATRONSYNC_ENCRYPTION_KEY" in error
    assert "nothing was rotated" in error
    definitions.ENCRYPTION_KEY = KEY_A
    assert stored() == before


def test_a_secret_saved_with_a_dropped_key_says_how_to_recover(definitions):
    definitions.ENCRYPTION_KEY = KEY_B
    with pytest.raises(ConfigurationError) as error:
        Connection.objects.get(name="campus")
    assert "Put the old key back (after the new one, comma-separated)" in str(error.value)
    assert "patronsync secrets rotate" in str(error.value)


# A refused login, on a real FTP server (the fixtures of conftest.py) --------------------------

WRONG = "Wrong-Pa55word-never-shown"


def profile_on(institution, connection_name: str):
    document = demo_config(Path("/unused"))
    del document["connections"]
    document["profiles"][0]["connection"] = connection_name
    config_apply(institution=institution, document=document)
    return IntegrationProfile.objects.get(institution=institution, code="SIS")


def test_a_refused_login_names_no_password_in_the_test_the_job_or_the_log(
    institution, ftp_connection, caplog
):
    caplog.set_level("DEBUG")
    connection_update(connection=ftp_connection, values={"password": WRONG}, actor="tests")
    profile = profile_on(institution, ftp_connection.name)

    result = connection_test(connection=ftp_connection)
    assert (result.ok, result.kind) == (False, "auth")
    assert WRONG not in result.message

    job = profile_run(profile=profile, kind="synchronize")
    assert job.status == JobStatus.FAILED
    assert "the server refused the login of sis" in result.message
    assert "the server refused the login of sis" in job.log
    for text in (job.log, result.message, caplog.text, str(result.as_dict())):
        assert WRONG not in text


def test_a_bad_key_stops_the_start_with_a_check_naming_its_position(settings):
    settings.ENCRYPTION_KEY = f"{KEY_A},{KEY_B[:-4]}"
    with pytest.raises(SystemCheckError) as error:
        call_command("check")
    assert "connections.E002" in str(error.value)
    assert "key 2 of 2 is not 32 url-safe base64-encoded bytes" in str(error.value)
    assert KEY_A not in str(error.value)
