"""The Allowed S/FTP connections and S/FTP definitions pages: who may see and change what, the
forms and their errors, secrets that never reach a page, and Test connection against sshd."""

from __future__ import annotations

import re
import zoneinfo

import pytest
from django.urls import reverse

from patronsync.accounts.choices import StaffRole
from patronsync.connections.models import AllowedConnection, Connection
from patronsync.connections.services import connection_create, connection_keygen
from patronsync.profiles.models import IntegrationProfile

pytestmark = pytest.mark.django_db

GSA = StaffRole.GENERAL_SYSTEM_ADMINISTRATOR
STORED_PASSWORD = "Stored-Pa55word-xyzzy"
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def campus(institution):
    """An allowed server and an SFTP definition on it, with a stored password and key pair."""
    AllowedConnection.objects.create(
        institution=institution, host="sftp.example.edu", description="Campus"
    )
    return connection_create(
        institution=institution,
        values={
            "name": "campus",
            "transport": "sftp",
            "server": "sftp.example.edu",
            "username": "library",
            "password": STORED_PASSWORD,
            "sub_directory": "/upload",
        },
        actor="setup",
    )


@pytest.fixture
def login(client, staff, institution, other_institution):
    """`login("gsa" | "viewer" | "manager" | "other" | "anonymous")`: the client, logged in so."""
    roles = {"gsa": GSA, "viewer": StaffRole.VIEWER, "manager": StaffRole.USER_MANAGER}

    def as_(who):
        if who == "other":
            client.force_login(staff(other_institution, GSA))
        elif who != "anonymous":
            client.force_login(staff(institution, roles[who]))
        return client

    return as_


def profile_of(connection, code="SIS", **fields):
    values = {"import_input_path": "import", "sync_input_path": "synchronize", **fields}
    return IntegrationProfile.objects.create(
        institution=connection.institution,
        code=code,
        name="Student Information System",
        system="Campus Management",
        connection=connection,
        **values,
    )


def form_data(**changes):
    """Every field of the definition form, as a browser sends it."""
    data = {
        "name": "registrar",
        "description": "Registrar's server",
        "transport": "sftp",
        "server": "sftp.example.edu",
        "port": "2222",
        "sub_directory": "/exports",
        "max_files": "20",
        "min_files": "1",
        "max_file_size": "4",
        "size_type": "GB",
        "allow_navigation": "on",
        "ftp_server_type": "DEFAULT",
        "passive_mode": "on",
        "username": "library",
        "password": "",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def assert_redirects_to_login(response):
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


# Who may do what -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["connections:allowed-list", "connections:list"])
@pytest.mark.parametrize("who", ["viewer", "manager", "gsa"])
def test_every_role_sees_both_lists(login, campus, name, who):
    response = login(who).get(reverse(name))
    assert response.status_code == 200
    text = response.content.decode()
    assert "sftp.example.edu" in text
    can_change = who == "gsa"
    assert ("+ Add Row" in text or "+ Add S/FTP definition" in text) is can_change
    assert ("Delete" in text) is can_change


@pytest.mark.parametrize(
    "name",
    ["connections:allowed-list", "connections:list", "connections:create"],
)
def test_anonymous_is_sent_to_the_login_page(client, name):
    assert_redirects_to_login(client.get(reverse(name)))


def object_urls(campus):
    row = AllowedConnection.objects.get(institution=campus.institution)
    return {
        "allowed-edit": reverse("connections:allowed-edit", args=[row.pk]),
        "allowed-delete": reverse("connections:allowed-delete", args=[row.pk]),
        "edit": reverse("connections:edit", args=[campus.pk]),
        "delete": reverse("connections:delete", args=[campus.pk]),
    }


def post_urls(campus):
    row = AllowedConnection.objects.get(institution=campus.institution)
    return {
        "allowed-create": (reverse("connections:allowed-create"), {"host": "new.example.edu"}),
        "allowed-edit": (
            reverse("connections:allowed-edit", args=[row.pk]),
            {"host": "changed.example.edu", "enabled": "on"},
        ),
        "allowed-enable": (reverse("connections:allowed-enable", args=[row.pk]), {"enabled": "0"}),
        "allowed-delete": (reverse("connections:allowed-delete", args=[row.pk]), {}),
        "create": (reverse("connections:create"), form_data()),
        "edit": (reverse("connections:edit", args=[campus.pk]), form_data(name="changed")),
        "delete": (reverse("connections:delete", args=[campus.pk]), {}),
        "keygen": (reverse("connections:keygen", args=[campus.pk]), {"confirm": "1"}),
        "test": (reverse("connections:test", args=[campus.pk]), {}),
        "trust": (reverse("connections:trust", args=[campus.pk]), {"fingerprint": "SHA256:x"}),
    }


def unchanged(campus):
    """The connection, its key pair and the allowed row are as the fixture made them."""
    stored = Connection.objects.get(pk=campus.pk)
    row = AllowedConnection.objects.get(institution=campus.institution)
    return (
        stored.name == "campus"
        and stored.public_key == campus.public_key
        and row.enabled
        and row.host == "sftp.example.edu"
        and AllowedConnection.objects.filter(institution=campus.institution).count() == 1
        and Connection.objects.filter(institution=campus.institution).count() == 1
    )


@pytest.mark.parametrize("who", ["viewer", "manager"])
def test_viewers_and_user_managers_change_nothing(login, campus, who):
    client = login(who)
    for action, (url, data) in post_urls(campus).items():
        response = client.post(url, data)
        assert response.status_code == 403, action
        response = client.post(url, data, **HTMX)
        assert response.status_code == 403, action
    assert unchanged(campus)
    for action in ("allowed-edit", "allowed-delete", "delete"):
        assert client.get(object_urls(campus)[action]).status_code == 403
    assert client.get(reverse("connections:create")).status_code == 403


@pytest.mark.parametrize("who", ["viewer", "manager"])
def test_viewers_see_a_definition_read_only(login, campus, who):
    response = login(who).get(reverse("connections:edit", args=[campus.pk]))
    assert response.status_code == 200
    text = response.content.decode()
    assert "<form" not in text.split('id="main"', 1)[1].split("Public key")[0]
    assert 'id="connection-fields"' in text
    assert campus.public_key in text
    assert 'data-copy-target="public-key-text"' in text
    assert "Generate a new key pair" not in text
    assert "Test connection" not in text
    assert '<span class="ps-secret-set">set</span>' in text


def test_anonymous_posts_change_nothing(client, campus):
    for url, data in post_urls(campus).values():
        assert_redirects_to_login(client.post(url, data))
    for url in object_urls(campus).values():
        assert_redirects_to_login(client.get(url))
    assert unchanged(campus)


def test_another_institutions_administrator_finds_none_of_ours(login, campus, other_institution):
    client = login("other")
    for action, url in object_urls(campus).items():
        assert client.get(url).status_code == 404, action
    for action, (url, data) in post_urls(campus).items():
        if action in ("allowed-create", "create"):
            continue  # these make rows of the administrator's own institution
        assert client.post(url, data).status_code == 404, action
    # ?institution= of an institution the account has no role in is not taken.
    response = client.get(reverse("connections:list") + "?institution=main")
    assert "campus" not in response.content.decode()
    assert unchanged(campus)
    client.post(reverse("connections:allowed-create"), {"host": "branch.example.edu"})
    assert AllowedConnection.objects.get(host="branch.example.edu").institution == other_institution


# Allowed S/FTP connections -------------------------------------------------------------------


def test_a_row_is_added_normalized_and_shown_with_who_and_when(login, institution):
    institution.time_zone = "America/New_York"
    institution.save()
    client = login("gsa")
    response = client.post(
        reverse("connections:allowed-create"),
        {"host": " SFTP.Registrar.Example.edu. ", "description": "Registrar", "enabled": "on"},
        follow=True,
    )
    row = AllowedConnection.objects.get(institution=institution)
    assert (row.host, row.description, row.enabled) == (
        "sftp.registrar.example.edu",
        "Registrar",
        True,
    )
    text = response.content.decode()
    assert "sftp.registrar.example.edu was added" in text
    assert row.updated_by in text
    assert row.updated_by.startswith("staff")
    local = row.updated_at.astimezone(zoneinfo.ZoneInfo("America/New_York"))
    assert local.strftime("%Y-%m-%d %H:%M:%S %Z") in text
    assert local.strftime("%Z") in ("EST", "EDT")


def test_a_duplicate_or_bad_host_is_refused_beside_its_field(login, campus):
    client = login("gsa")
    response = client.post(reverse("connections:allowed-create"), {"host": "SFTP.example.edu"})
    assert response.status_code == 400
    text = response.content.decode()
    assert '<small class="ps-field-error" id="allowed-host-error">FTP Hostname / IP: ' in text
    assert "sftp.example.edu is already in the table." in text
    assert 'aria-invalid="true"' in text
    assert 'aria-describedby="allowed-host-error' in text
    response = client.post(reverse("connections:allowed-create"), {"host": "sftp://x/y"})
    assert "is not a host name or an IP address" in response.content.decode()
    assert AllowedConnection.objects.count() == 1


def test_a_row_is_edited_and_a_host_already_in_the_table_is_refused(login, campus):
    client = login("gsa")
    row = AllowedConnection.objects.get(institution=campus.institution)
    AllowedConnection.objects.create(institution=campus.institution, host="old.example.edu")
    url = reverse("connections:allowed-edit", args=[row.pk])
    text = client.get(url).content.decode()
    assert 'value="sftp.example.edu"' in text
    assert 'value="Campus"' in text
    response = client.post(url, {"host": "OLD.example.edu", "enabled": "on"})
    assert response.status_code == 400
    error = response.content.decode().split('id="allowed-host-error">', 1)[1]
    assert error.startswith("FTP Hostname / IP: old.example.edu is already in the table.")
    response = client.post(url, {"host": "sftp.example.edu", "description": "Registrar"})
    assert response.status_code == 302
    row.refresh_from_db()
    assert (row.host, row.description, row.enabled) == ("sftp.example.edu", "Registrar", False)


def test_a_row_is_disabled_and_enabled_by_a_plain_post_and_by_htmx(login, campus):
    client = login("gsa")
    row = AllowedConnection.objects.get(institution=campus.institution)
    url = reverse("connections:allowed-enable", args=[row.pk])
    response = client.post(url, {"enabled": "0"})
    assert response.status_code == 302
    assert response["Location"] == reverse("connections:allowed-list")
    row.refresh_from_db()
    assert row.enabled is False
    response = client.post(url, {"enabled": "1"}, **HTMX)
    text = response.content.decode()
    assert text.startswith(f'<tr id="allowed-row-{row.pk}">')
    assert "Enabled" in text
    assert "<html" not in text
    row.refresh_from_db()
    assert row.enabled is True


def test_a_row_is_deleted_after_a_confirmation_naming_its_definitions(login, campus):
    client = login("gsa")
    url = object_urls(campus)["allowed-delete"]
    text = client.get(url).content.decode()
    assert "campus" in text
    assert "These S/FTP definitions use this server" in text
    response = client.post(url, follow=True)
    assert "sftp.example.edu was removed" in response.content.decode()
    assert not AllowedConnection.objects.exists()
    assert Connection.objects.filter(pk=campus.pk).exists()


@pytest.mark.parametrize(
    ("setting", "words"),
    [("*", "Applies now"), ("main", "Applies now"), ("", "Not applied"), ("branch", "Not applied")],
)
def test_the_page_says_whether_the_table_applies(login, settings, setting, words):
    settings.PATRONSYNC_IN_IMPLEMENTATION = setting
    text = login("viewer").get(reverse("connections:allowed-list")).content.decode()
    assert words in text
    assert "only used during implementation" in text


# S/FTP definitions: the form -------------------------------------------------------------------


def test_the_form_has_every_field_of_almas_screen_in_its_order(login):
    text = login("gsa").get(reverse("connections:create")).content.decode()
    labels = [
        "Name",
        "Description",
        "Server",
        "Port",
        "Sub-directory",
        "Max. Number of Files",
        "Min. Number of Files",
        "Max. file size",
        "Size type",
        "Allow Navigation",
        "Ftp Server Type",
        "Passive Mode",
        "Ftp Server Secured",
        "UserName",
        "Password",
    ]
    places = [
        text.index("<strong>Ftp Server Secured:</strong>")
        if label == "Ftp Server Secured"
        else re.search(rf'<label for="id_\w+">(<input[^>]*> )?{re.escape(label)}[ <]', text).start()
        for label in labels
    ]
    assert places == sorted(places)
    assert 'name="transport"' in text
    assert 'name="private_key"' in text
    for field in ("name", "server", "port", "username", "password", "private_key"):
        assert f'id="id_{field}-help"' in text
        assert f'<label for="id_{field}">' in text


def test_a_definition_is_created_with_a_key_pair_and_its_page_shows_the_public_key(
    login, institution, campus
):
    client = login("gsa")
    response = client.post(
        reverse("connections:create"), form_data(password="Typed-Secret-123"), follow=True
    )
    created = Connection.objects.get(institution=institution, name="registrar")
    assert response.redirect_chain[-1][0] == reverse("connections:edit", args=[created.pk])
    assert (created.port, created.sub_directory, created.password) == (
        2222,
        "/exports",
        "Typed-Secret-123",
    )
    assert created.updated_by.startswith("staff")
    assert created.public_key.startswith("ssh-ed25519 ")
    text = response.content.decode()
    assert "S/FTP definition registrar was created." in text
    assert f'<pre id="public-key-text" class="ps-mono">{created.public_key}</pre>' in text
    assert 'data-copy-target="public-key-text"' in text
    assert "Typed-Secret-123" not in text
    assert created.private_key not in text
    assert '<span class="ps-secret-set">set</span> A password is stored.' in text


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"username": ""}, "username", "UserName: An SFTP definition needs the username"),
        ({"server": ""}, "server", "Server: An SFTP definition needs a server"),
        ({"server": "not a host!"}, "server", "is not a host name or an IP address"),
        ({"port": "70000"}, "port", "Port: Ensure this value is less than or equal to 65535."),
        ({"min_files": "30"}, "min_files", "The minimum number of files (30) is more than"),
        ({"name": "campus"}, "name", "Name: A definition named &#x27;campus&#x27; already"),
        ({"private_key": "not a key"}, "private_key", "is not an OpenSSH or PEM private key"),
        (
            {"transport": "local", "sub_directory": "/etc"},
            "sub_directory",
            "Sub-directory: ",
        ),
    ],
)
def test_field_errors_show_beside_their_field_and_name_it(login, campus, changes, field, words):
    response = login("gsa").post(reverse("connections:create"), form_data(**changes))
    assert response.status_code == 400
    text = response.content.decode()
    error = text.split(f'<small class="ps-field-error" id="id_{field}-error">', 1)[1]
    assert words in error.split("</small>", 1)[0]
    assert f'aria-describedby="id_{field}-error id_{field}-help"' in text
    assert not Connection.objects.filter(name="registrar").exists()


def test_a_server_missing_from_the_allowed_table_is_refused_on_the_server_field(
    login, settings, campus
):
    settings.PATRONSYNC_IN_IMPLEMENTATION = "*"
    response = login("gsa").post(reverse("connections:create"), form_data(server="other.edu"))
    text = response.content.decode()
    error = text.split('<small class="ps-field-error" id="id_server-error">', 1)[1]
    assert "Server: Server other.edu is not an enabled row of the Allowed" in error
    assert not Connection.objects.filter(name="registrar").exists()


def test_a_refused_form_does_not_send_back_the_secrets_typed(login, campus):
    from patronsync.connections.keys import ssh_keypair_new

    private, _ = ssh_keypair_new(comment="mine")
    response = login("gsa").post(
        reverse("connections:create"),
        form_data(username="", password="Typed-Secret-123", private_key=private),
    )
    text = response.content.decode()
    assert "Typed-Secret-123" not in text
    assert "PRIVATE KEY" not in text


def edit(client, campus, **changes):
    return client.post(
        reverse("connections:edit", args=[campus.pk]), form_data(name="campus", **changes)
    )


def test_an_empty_password_keeps_the_stored_one_a_new_one_replaces_it_clear_removes_it(
    login, campus
):
    client = login("gsa")
    assert edit(client, campus, password="").status_code == 302
    campus.refresh_from_db()
    assert campus.password == STORED_PASSWORD
    assert campus.port == 2222  # the rest was saved

    edit(client, campus, password="Brand-New-Pass-456")
    campus.refresh_from_db()
    assert campus.password == "Brand-New-Pass-456"

    edit(client, campus, clear_password="on")
    campus.refresh_from_db()
    assert campus.password == ""
    text = client.get(reverse("connections:edit", args=[campus.pk])).content.decode()
    assert "No password is stored." in text


def test_a_new_password_and_clearing_it_at_once_is_refused(login, campus):
    response = edit(login("gsa"), campus, password="Brand-New-Pass-456", clear_password="on")
    assert response.status_code == 400
    assert "Password: give a new one or remove the stored one, not both." in (
        response.content.decode()
    )
    campus.refresh_from_db()
    assert campus.password == STORED_PASSWORD


def test_clearing_the_private_key_of_an_sftp_definition_makes_a_new_pair(login, campus):
    old = campus.public_key
    edit(login("gsa"), campus, clear_private_key="on")
    campus.refresh_from_db()
    assert campus.public_key.startswith("ssh-ed25519 ")
    assert campus.public_key != old


def test_an_edit_refused_by_a_profiles_rule_names_the_field_and_saves_nothing(login, campus):
    profile_of(campus, import_input_path="../elsewhere")
    response = edit(login("gsa"), campus, allow_navigation=None)
    assert response.status_code == 400
    text = response.content.decode()
    error = text.split('<small class="ps-field-error" id="id_allow_navigation-error">', 1)[1]
    assert "Allow Navigation: Profile SIS" in error
    campus.refresh_from_db()
    assert (campus.allow_navigation, campus.port) == (True, 22)


def test_the_stored_secrets_appear_in_no_page(login, campus):
    client = login("gsa")
    secrets = [STORED_PASSWORD, campus.private_key, "PRIVATE KEY"]
    pages = [
        client.get(reverse("connections:list")),
        client.get(reverse("connections:allowed-list")),
        client.get(reverse("connections:edit", args=[campus.pk])),
        client.get(reverse("connections:delete", args=[campus.pk])),
        client.post(reverse("connections:test", args=[campus.pk])),
        client.post(reverse("connections:test", args=[campus.pk]), **HTMX),
        edit(client, campus, min_files="99"),
        login("viewer").get(reverse("connections:edit", args=[campus.pk])),
    ]
    for response in pages:
        text = response.content.decode()
        for secret in secrets:
            assert secret not in text


# Delete, keys ----------------------------------------------------------------------------------


def test_a_definition_a_profile_uses_is_not_deleted(login, campus):
    profile_of(campus)
    client = login("gsa")
    text = client.get(reverse("connections:delete", args=[campus.pk])).content.decode()
    assert "It cannot be deleted" in text
    assert "SIS" in text
    response = client.post(reverse("connections:delete", args=[campus.pk]), follow=True)
    assert "was not deleted: integration profile(s) SIS use it." in response.content.decode()
    assert Connection.objects.filter(pk=campus.pk).exists()


def test_an_unused_definition_is_deleted(login, campus):
    response = login("gsa").post(reverse("connections:delete", args=[campus.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("connections:list")
    assert "S/FTP definition campus was deleted." in response.content.decode()
    assert not Connection.objects.filter(pk=campus.pk).exists()


def test_a_new_key_pair_needs_its_confirmation(login, campus):
    client = login("gsa")
    old = campus.public_key
    url = reverse("connections:keygen", args=[campus.pk])
    response = client.post(url, follow=True)
    assert "No new key pair was made" in response.content.decode()
    campus.refresh_from_db()
    assert campus.public_key == old
    response = client.post(url, {"confirm": "1"}, follow=True)
    campus.refresh_from_db()
    assert campus.public_key != old
    text = response.content.decode()
    assert campus.public_key in text
    assert old not in text
    assert "has a new key pair" in text


# Test connection against the real sshd -------------------------------------------------------


@pytest.fixture
def sftp_page(sftp_connection, login):
    """A General System Administrator's client and the URLs of the sshd definition's page."""
    client = login("gsa")
    pk = sftp_connection.pk
    return (
        client,
        reverse("connections:test", args=[pk]),
        reverse("connections:trust", args=[pk]),
        reverse("connections:edit", args=[pk]),
    )


def test_test_connection_logs_in_counts_each_profiles_zips_and_pins_the_key(
    sftp_connection, sshd, sftp_page
):
    client, test_url, _, edit_url = sftp_page
    profile_of(sftp_connection)
    (sshd.upload / "synchronize" / "students.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    response = client.post(test_url, **HTMX)
    text = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in text
    assert "Success" in text
    assert sshd.fingerprint() in text
    rows = text.split("<tbody>", 1)[1]
    assert '<td>Import</td><td class="ps-mono">import</td><td>0</td>' in rows
    assert '<td>Synchronize</td><td class="ps-mono">synchronize</td><td>1</td>' in rows
    assert "Trust this host key" not in text
    sftp_connection.refresh_from_db()
    assert sftp_connection.host_key_fingerprint == sshd.fingerprint()
    assert sshd.password not in text
    # htmx puts the page's server key, pinned now, in place too.
    pinned = text.split('<section id="host-key" hx-swap-oob="true">', 1)[1]
    assert f'id="pinned-fingerprint">{sshd.fingerprint()}</code>' in pinned
    # The definition's page now says the key is pinned.
    assert "Pinned" in client.get(edit_url).content.decode()


def test_without_javascript_the_test_result_is_on_the_definitions_page(sftp_connection, sftp_page):
    client, test_url, _, _ = sftp_page
    response = client.post(test_url)
    text = response.content.decode()
    assert response.status_code == 200
    assert "<html" in text
    assert "Update S/FTP connection" in text
    assert '<div id="test-result" aria-live="polite"><article class="ps-test-result">' in text
    assert "Success" in text
    assert "No integration profile uses this definition yet" in text
    assert text.count('id="host-key"') == 1
    assert "hx-swap-oob" not in text


def test_a_wrong_password_is_a_login_failure_with_the_servers_key_to_trust(
    sftp_connection, sshd, sftp_page
):
    client, test_url, trust_url, _ = sftp_page
    sftp_connection.password = "Wrong-Password-789"
    sftp_connection.save()
    text = client.post(test_url, **HTMX).content.decode()
    assert "Login refused" in text
    assert "<code>auth</code>" in text
    assert "Wrong-Password-789" not in text
    # No login worked, so nothing is pinned: the key the server shows is offered.
    assert f'<input type="hidden" name="fingerprint" value="{sshd.fingerprint()}">' in text
    assert "Trust this host key" in text
    response = client.post(trust_url, {"fingerprint": sshd.fingerprint()}, **HTMX)
    text = response.content.decode()
    assert "Trusted" in text
    assert f'id="pinned-fingerprint">{sshd.fingerprint()}</code>' in text
    sftp_connection.refresh_from_db()
    assert sftp_connection.host_key_fingerprint == sshd.fingerprint()


def test_a_key_not_installed_on_the_server_is_a_login_failure(sftp_connection, sshd, sftp_page):
    client, test_url, _, _ = sftp_page
    sftp_connection.password = ""
    sftp_connection.save()
    connection_keygen(connection=sftp_connection, actor="tests")
    sshd.authorize(sftp_connection.public_key)
    assert "Success" in client.post(test_url, **HTMX).content.decode()
    connection_keygen(connection=sftp_connection, actor="tests")  # the server has the old one
    text = client.post(test_url, **HTMX).content.decode()
    assert "Login refused" in text
    assert "<code>auth</code>" in text


def test_a_changed_server_key_is_refused_and_only_the_fingerprint_shown_is_trusted(
    sftp_connection, sshd, sftp_page
):
    client, test_url, trust_url, _ = sftp_page
    old = sshd.fingerprint()
    assert "Success" in client.post(test_url, **HTMX).content.decode()
    new = sshd.host_key_new()
    text = client.post(test_url, **HTMX).content.decode()
    assert "Server key mismatch" in text
    assert "<code>host_key</code>" in text
    assert f'value="{new}"' in text
    assert old in text
    # A fingerprint other than the server's is refused, and nothing is pinned.
    response = client.post(trust_url, {"fingerprint": old + "x"}, follow=True)
    assert "nothing was pinned" in response.content.decode()
    sftp_connection.refresh_from_db()
    assert sftp_connection.host_key_fingerprint == old
    # The one the page showed is pinned; a plain POST redirects to the definition's page.
    response = client.post(trust_url, {"fingerprint": new})
    assert response.status_code == 302
    assert response["Location"].endswith("#host-key")
    sftp_connection.refresh_from_db()
    assert sftp_connection.host_key_fingerprint == new
    assert "Success" in client.post(test_url, **HTMX).content.decode()


def test_a_port_where_nothing_listens_is_a_refused_connection(sftp_connection, sftp_page):
    from .servers import free_port

    client, test_url, _, _ = sftp_page
    sftp_connection.port = free_port()
    sftp_connection.save()
    text = client.post(test_url, **HTMX).content.decode()
    assert "Connection refused" in text
    assert "<code>refused</code>" in text
    assert "Trust this host key" not in text


def test_an_ftp_definition_is_tested_against_a_real_ftp_server(ftp_connection, login):
    client = login("gsa")
    text = client.post(reverse("connections:test", args=[ftp_connection.pk]), **HTMX)
    assert "Success" in text.content.decode()
    ftp_connection.password = "Wrong-Ftp-Password"
    ftp_connection.save()
    text = client.post(reverse("connections:test", args=[ftp_connection.pk]), **HTMX)
    text = text.content.decode()
    assert "Login refused" in text
    assert "Wrong-Ftp-Password" not in text


def test_the_list_flags_a_definition_whose_server_is_no_longer_allowed(login, settings, campus):
    settings.PATRONSYNC_IN_IMPLEMENTATION = "*"
    client = login("viewer")
    assert "Not allowed" not in client.get(reverse("connections:list")).content.decode()
    AllowedConnection.objects.filter(host="sftp.example.edu").update(enabled=False)
    assert "Not allowed" in client.get(reverse("connections:list")).content.decode()
    text = client.get(reverse("connections:edit", args=[campus.pk])).content.decode()
    assert "Server sftp.example.edu is not an enabled row" in text
    settings.PATRONSYNC_IN_IMPLEMENTATION = ""
    assert "Not allowed" not in client.get(reverse("connections:list")).content.decode()


def test_enabling_a_row_takes_only_one_or_zero(login, campus):
    row = AllowedConnection.objects.get(institution=campus.institution)
    url = reverse("connections:allowed-enable", args=[row.pk])
    assert login("gsa").post(url, {"enabled": "maybe"}).status_code == 400
    row.refresh_from_db()
    assert row.enabled is True


def test_the_list_selector_flags_remote_definitions_off_the_allowed_table(settings, campus):
    from patronsync.connections.selectors import connection_list_with_allowed

    institution = campus.institution
    settings.PATRONSYNC_IN_IMPLEMENTATION = "*"
    rows = connection_list_with_allowed(institution=institution)
    assert [(r.connection, r.not_allowed) for r in rows] == [(campus, False)]

    AllowedConnection.objects.filter(host="sftp.example.edu").update(enabled=False)
    rows = connection_list_with_allowed(institution=institution)
    assert [(r.connection, r.not_allowed) for r in rows] == [(campus, True)]

    settings.PATRONSYNC_IN_IMPLEMENTATION = ""  # not in implementation: the table does not apply
    assert [r.not_allowed for r in connection_list_with_allowed(institution=institution)] == [False]


def test_each_error_names_its_field_exactly_once(login, campus):
    response = edit(login("gsa"), campus, password="Brand-New-Pass-456", clear_password="on")
    text = response.content.decode()
    error = text.split('<small class="ps-field-error" id="id_password-error">', 1)[1]
    assert error.split("</small>", 1)[0] == (
        "Password: give a new one or remove the stored one, not both."
    )

    response = login("gsa").post(reverse("connections:create"), form_data(max_files=""))
    text = response.content.decode()
    assert text.count("Max. Number of Files: This field is required.") == 1
    assert "Max. Number of Files: Max. Number of Files" not in text

    response = login("gsa").post(reverse("connections:allowed-create"), {"host": ""})
    text = response.content.decode()
    assert text.count("FTP Hostname / IP: This field is required.") == 1
    assert 'aria-describedby="allowed-host-error allowed-host-help"' in text
