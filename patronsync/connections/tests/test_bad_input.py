"""Bad values in a connection definition, from a configuration file, the API and the admin: a
clear error naming the place and the value, never a traceback; a pasted private key is never
sent back in a redrawn admin page."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from patronsync.accounts.choices import StaffRole
from patronsync.accounts.services import staff_create
from patronsync.api.tests.conftest import staff_client
from patronsync.connections.keys import ssh_keypair_new
from patronsync.connections.models import Connection
from patronsync.core.exceptions import ConfigurationError
from patronsync.profiles.services import config_apply

pytestmark = pytest.mark.django_db


def sftp(**values) -> dict:
    return {
        "name": "campus",
        "type": "sftp",
        "server": "sftp.example.edu",
        "username": "library",
        **values,
    }


def apply(institution, *connections, **document):
    return config_apply(
        institution=institution,
        document={"connections": list(connections), **document},
        source="patronsync.yaml",
    )


def refusal(institution, *connections, **document) -> str:
    with pytest.raises(ConfigurationError) as caught:
        apply(institution, *connections, **document)
    assert Connection.objects.count() == 0  # all or nothing
    return str(caught.value)


@pytest.mark.parametrize(
    ("key", "value", "shown"),
    [
        ("port", "abc", "'abc'"),
        ("port", [1], "[1]"),
        ("port", 22.5, "22.5"),
        ("port", True, "True"),
        ("max_files", "x", "'x'"),
        ("max_file_size", "big", "'big'"),
        ("min_files", 1.5, "1.5"),
    ],
)
def test_a_number_that_is_not_a_whole_number_is_refused_naming_it(institution, key, value, shown):
    message = refusal(institution, sftp(**{key: value}))
    assert message == (
        f"patronsync.yaml: connections[0].{key}: {shown}; expected a whole number, such as 22"
    )


def test_a_server_written_as_a_number_is_refused_naming_it(institution):
    message = refusal(institution, sftp(server=12345))
    assert message == (
        'patronsync.yaml: connections[0].server: 12345; expected text (in quotes, such as "12345")'
    )


def test_an_empty_text_value_is_refused_naming_it(institution):
    message = refusal(institution, sftp(description=None))
    assert message == (
        'patronsync.yaml: connections[0].description: empty; expected text (write "" for none)'
    )


@pytest.mark.parametrize(
    ("document", "place"),
    [
        ({"connections": [sftp(sub_directory="/up\0load")]}, "connections[0].sub_directory"),
        ({"connections": [sftp(path="in\0")]}, "connections[0].path"),
        ({"connections": [sftp(password="se\0cret")]}, "connections[0].password"),
        ({"allowed_connections": [{"host": "sftp.example.edu\0"}]}, "allowed_connections[0].host"),
        ({"profiles": [{"code": "SIS", "subscribers": ["a@b.edu", "c\0@d.edu"]}]},
         "profiles[0].subscribers[1]"),
    ],
)  # fmt: skip
def test_a_nul_character_anywhere_is_refused_naming_its_place(institution, document, place):
    with pytest.raises(ConfigurationError) as caught:
        config_apply(institution=institution, document=document, source="patronsync.yaml")
    assert str(caught.value) == (
        f"patronsync.yaml: {place}: holds a NUL character (\\0); remove it"
    )
    assert Connection.objects.count() == 0


def test_whole_numbers_and_quoted_numbers_are_still_taken(institution):
    assert apply(institution, sftp(port=2222, max_files=5, max_file_size=2)) == [
        "connection campus: created"
    ]
    connection = Connection.objects.get()
    assert (connection.port, connection.max_files, connection.max_file_size) == (2222, 5, 2)


@pytest.mark.parametrize(
    ("field", "value"),
    [("port", "abc"), ("port", [1]), ("max_files", "x"), ("max_file_size", "big")],
)
def test_a_definition_s_own_rules_leave_a_refused_number_to_its_field(institution, field, value):
    """`clean()` compares no value its field refused: the field's error is the one reported."""
    connection = Connection(
        institution=institution,
        name="campus",
        transport="sftp",
        server="sftp.example.edu",
        username="library",
        **{field: value},
    )
    with pytest.raises(ValidationError) as caught:
        connection.full_clean()
    assert caught.value.message_dict == {field: [f"“{value}” value must be an integer."]}


@pytest.fixture
def admin_api(institution):
    return staff_client("admin", {institution: StaffRole.GENERAL_SYSTEM_ADMINISTRATOR})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("port", "abc"),
        ("port", [1]),
        ("port", 22.5),
        ("port", True),
        ("max_files", "x"),
        ("max_file_size", "big"),
        ("sub_directory", "/up\0load"),
        ("server", "sftp\0.example.edu"),
    ],
)
def test_the_api_answers_bad_values_with_a_400_naming_the_field(admin_api, field, value):
    body = {
        "name": "campus",
        "transport": "sftp",
        "server": "sftp.example.edu",
        "username": "library",
        field: value,
    }
    response = admin_api.post("/api/v1/connections", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert Connection.objects.count() == 0


PASSWORD = "a long password 1"


@pytest.fixture
def gsa(institution) -> Client:
    """A General System Administrator signed in to the admin."""
    staff_create(
        username="boss",
        password=PASSWORD,
        memberships={institution: StaffRole.GENERAL_SYSTEM_ADMINISTRATOR},
    )
    client = Client()
    assert client.login(username="boss", password=PASSWORD)
    return client


def test_a_refused_admin_form_never_shows_the_pasted_private_key_or_password(gsa, institution):
    private_key, _ = ssh_keypair_new(comment="")
    secret = "admin-Pa55word-never-shown"
    form = {
        "institution": institution.pk,
        "name": "campus",
        "description": "",
        "transport": "sftp",
        "server": "sftp.example.edu",
        "port": "99999",
        "sub_directory": "outgoing",
        "max_files": 20,
        "min_files": 1,
        "max_file_size": 4,
        "size_type": "GB",
        "ftp_server_type": "DEFAULT",
        "username": "library",
        "password": secret,
        "private_key": private_key,
    }
    response = gsa.post("/admin/connections/connection/add/", form)

    assert response.status_code == 200  # redrawn with the port's error
    page = response.content.decode()
    assert "Port 99999 is not a port number; expected 1 to 65535." in page
    key_body = private_key.strip().splitlines()[1]
    assert key_body not in page
    assert secret not in page
    assert Connection.objects.count() == 0

    form["port"] = "22"
    assert gsa.post("/admin/connections/connection/add/", form).status_code == 302
    connection = Connection.objects.get()
    assert str(connection.password) == secret
    assert str(connection.private_key) == private_key
