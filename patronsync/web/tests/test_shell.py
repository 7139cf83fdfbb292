"""The pages' shell: patronsync's login and logout, its error pages with debug off, the vendored
static files, the menu, and the admin's header."""

from __future__ import annotations

import pytest
from django.urls import include, path

from patronsync.accounts.choices import StaffRole

PASSWORD = "a long password 1"  # the `staff` fixture's


def _raises(request):
    raise RuntimeError("a bug in a view")


# The project's routes and one view that raises: the 500 page's test uses this module as its
# urlconf (`@pytest.mark.urls`).
urlpatterns = [
    path("boom/", _raises),
    path("", include("config.urls")),
]


@pytest.fixture
def admin_account(institution, staff):
    return staff(institution, StaffRole.GENERAL_SYSTEM_ADMINISTRATOR, username="gsa")


def test_login_page_is_patronsyncs_not_djangos(client, db):
    response = client.get("/login/")

    page = response.content.decode()
    assert response.status_code == 200
    assert "Log in to patronsync" in page
    assert 'class="ps-header"' in page
    assert "Django administration" not in page
    assert 'name="csrfmiddlewaretoken"' in page
    assert '<label for="id_username">Username</label>' in page
    assert '<label for="id_password">Password</label>' in page


def test_admin_pages_say_patronsync_administration(client, db):
    response = client.get("/admin/login/")

    page = response.content.decode()
    assert response.status_code == 200
    assert "patronsync administration" in page
    assert "Django administration" not in page


def test_a_wrong_password_shows_an_error_and_logs_nobody_in(client, admin_account):
    response = client.post("/login/", {"username": "gsa", "password": "not the password"})

    page = response.content.decode()
    assert response.status_code == 200
    assert 'role="alert"' in page
    assert "Please enter a correct username and password" in page
    assert 'value="gsa"' in page  # the username stays, the password does not
    assert "not the password" not in page
    assert "_auth_user_id" not in client.session


def test_login_goes_to_the_page_asked_for(client, admin_account):
    asked = client.get("/jobs/")
    assert asked.status_code == 302
    assert asked["Location"] == "/login/?next=/jobs/"

    form = client.get(asked["Location"]).content.decode()
    assert 'name="next" value="/jobs/"' in form
    response = client.post("/login/", {"username": "gsa", "password": PASSWORD, "next": "/jobs/"})

    assert response.status_code == 302
    assert response["Location"] == "/jobs/"
    assert client.get("/jobs/").status_code == 200


def test_login_does_not_follow_a_next_to_another_site(client, admin_account):
    response = client.post(
        "/login/", {"username": "gsa", "password": PASSWORD, "next": "https://evil.example/"}
    )

    assert response.status_code == 302
    assert "evil.example" not in response["Location"]


def test_logout_is_a_post_that_ends_the_session_and_shows_the_login_page(client, admin_account):
    client.force_login(admin_account)

    assert client.get("/logout/").status_code == 405  # a link or a prefetch does not log out
    assert client.get("/").status_code == 200
    response = client.post("/logout/")

    assert response.status_code == 302
    assert response["Location"] == "/login/"
    assert client.get("/").status_code == 302  # logged out


def test_the_menu_shows_the_pages_and_the_configuration_entries(client, admin_account):
    client.force_login(admin_account)

    page = client.get("/").content.decode()

    assert 'aria-label="Main menu"' in page
    assert ">Users</a>" in page
    assert ">Monitor Jobs</a>" in page
    assert "<summary>Configuration</summary>" in page
    assert "General \N{SINGLE RIGHT-POINTING ANGLE QUOTATION MARK} External Systems" in page
    assert "User Management" in page
    for entry, url in [
        ("Allowed S/FTP connections", "connections:allowed-list"),
        ("S/FTP definitions", "connections:list"),
        ("Integration Profiles", "profiles:list"),
        ("Code tables", "web:code-table-list"),
    ]:
        from django.urls import NoReverseMatch, reverse

        try:
            link = f'<a href="{reverse(url)}">{entry}</a>'
        except NoReverseMatch:
            pytest.fail(f"the menu's {entry} names {url}, which no page answers")
        assert link in page, entry
    assert f"<summary>{admin_account.username}</summary>" in page
    assert "General System Administrator" in page  # the role, under the account's name
    assert 'action="/logout/"' in page


def test_the_menu_is_not_shown_to_anonymous_visitors(client, db):
    page = client.get("/login/").content.decode()

    assert "<summary>Configuration</summary>" not in page
    assert "Log out" not in page


def test_404_is_patronsyncs_page_without_the_url_patterns(client, admin_account):
    client.force_login(admin_account)

    response = client.get("/no-such-page/")

    page = response.content.decode()
    assert response.status_code == 404
    assert 'class="ps-header"' in page
    assert "404 · Not found" in page
    assert "URLconf" not in page
    assert "Resolver404" not in page  # Django's class name is no message for a librarian


def test_404_of_a_missing_object_names_no_model(client, admin_account):
    client.force_login(admin_account)

    response = client.get("/users/999999/")

    page = response.content.decode()
    assert response.status_code == 404
    assert "404 · Not found" in page
    assert "matches the given query" not in page


def test_403_is_patronsyncs_page_naming_what_is_missing(client, staff, db):
    nobody = staff(None)  # an account with no role in any institution
    client.force_login(nobody)

    response = client.get("/")

    page = response.content.decode()
    assert response.status_code == 403
    assert 'class="ps-header"' in page
    assert "403 · Not allowed" in page
    assert "Your role does not allow this page" in page


@pytest.mark.urls("patronsync.web.tests.test_shell")
def test_500_renders_patronsyncs_page_and_no_debug_page(client, admin_account, settings):
    assert settings.DEBUG is False
    client.raise_request_exception = False
    client.force_login(admin_account)

    response = client.get("/boom/")

    page = response.content.decode()
    assert response.status_code == 500
    assert "500 · Something went wrong" in page
    assert 'class="ps-header"' in page
    assert "/static/patronsync/patronsync.css" in page
    assert "a bug in a view" not in page
    assert "Traceback" not in page
    assert "RuntimeError" not in page


@pytest.mark.parametrize(
    ("path", "content_type", "marker"),
    [
        ("/static/patronsync/vendor/htmx.min.js", "javascript", b"htmx"),
        ("/static/patronsync/vendor/pico.min.css", "text/css", b"Pico CSS"),
        ("/static/patronsync/patronsync.css", "text/css", b".ps-header"),
        ("/static/patronsync/patronsync.js", "javascript", b"data-copy-target"),
    ],
)
def test_the_vendored_static_files_are_served(client, db, path, content_type, marker):
    response = client.get(path)

    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert response.status_code == 200
    assert content_type in response["Content-Type"]
    assert marker in body


def test_the_base_page_loads_the_shell_and_sends_the_csrf_token_with_htmx(client, admin_account):
    client.force_login(admin_account)

    page = client.get("/").content.decode()

    assert '<link rel="stylesheet" href="/static/patronsync/vendor/pico.min.css">' in page
    assert '<script src="/static/patronsync/vendor/htmx.min.js" defer></script>' in page
    assert 'hx-headers=\'{"X-CSRFToken": "' in page
    assert '<a class="skip-link" href="#main">' in page
    assert '<main id="main"' in page


def test_a_logged_in_account_asking_for_the_login_page_goes_on(client, admin_account):
    client.force_login(admin_account)

    response = client.get("/login/?next=/jobs/")

    assert response.status_code == 302
    assert response["Location"] == "/jobs/"


def test_an_account_of_two_institutions_switches_between_them_in_the_menu(
    client, institution, other_institution
):
    from patronsync.accounts.services import staff_create

    account = staff_create(
        username="consortium",
        password=PASSWORD,
        memberships={
            institution: StaffRole.GENERAL_SYSTEM_ADMINISTRATOR,
            other_institution: StaffRole.VIEWER,
        },
    )
    client.force_login(account)

    first = client.get("/?institution=main").content.decode()
    switched = client.get("/?institution=branch").content.decode()
    stays = client.get("/jobs/").content.decode()  # the choice holds for the session

    assert '<select id="ps-institution" name="institution"' in first
    assert '<option value="main" selected>Main library</option>' in first
    assert '<option value="branch" >Branch library</option>' in first
    assert "General System Administrator" in first
    assert '<option value="branch" selected>Branch library</option>' in switched
    assert "Viewer" in switched  # the role there, under the account's name
    assert '<option value="branch" selected>Branch library</option>' in stays
