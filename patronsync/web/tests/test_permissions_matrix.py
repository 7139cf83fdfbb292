"""Every page's access, walked from the URL resolver: a page someone forgot to protect fails here.

Each URL pattern of the page namespaces is built with the primary keys of real objects of the
default institution (a connection, an allowed connection, a profile, a job with a rejected user,
a user) and asked as an anonymous visitor (sent to the login page), as a General System
Administrator of another institution only (403 or 404, and never the objects' data), as a
Viewer of the institution posting (403, or 405 where the page takes no POST), and as a User
Manager posting anywhere but the user pages (the same). A pattern the walk
cannot build fails the coverage test, naming it: no pattern is skipped silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import quote

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from patronsync.accounts.choices import StaffRole
from patronsync.connections.models import AllowedConnection
from patronsync.connections.services import connection_update
from patronsync.core.models import CodeTableEntry
from patronsync.core.services import code_table_entry_declare
from patronsync.jobs.services import profile_run
from patronsync.loader.tests.conftest import make_profile, user_xml, users_doc, write_zip
from patronsync.patrons.models import Patron
from patronsync.profiles.services import profile_update

PAGE_NAMESPACES = ("patrons", "jobs", "connections", "profiles", "web")

# What the other institution's staff must never see: the default institution's objects' names.
MARKERS = {
    "patron": "Quaggamore",
    "profile": "Wombat Registry Feed",
    "connection": "numbat-drop",
    "allowed": "Platypus campus gateway",
    "code": "Bilby reading group",
}


@dataclass(frozen=True)
class Page:
    namespace: str
    name: str | None
    route: str
    kwargs: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.namespace}:{self.name} ({self.route})"


def page_patterns() -> list[Page]:
    """Every URL pattern under the page namespaces, with its route and its keyword arguments."""
    found: list[Page] = []

    def walk(patterns, namespace: str | None, prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = pattern.namespace or ""
                joined = ":".join(part for part in (namespace, inner) if part) or None
                walk(pattern.url_patterns, joined, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern) and (namespace or "").split(":")[0] in (
                PAGE_NAMESPACES
            ):
                kwargs = tuple(pattern.pattern.regex.groupindex)
                route = prefix + str(pattern.pattern)
                found.append(Page(namespace or "", pattern.name, route, kwargs))

    walk(get_resolver().url_patterns, None, "")
    return found


@dataclass
class World:
    """The default institution's objects, one of each kind a page is about."""

    connection_pk: int
    allowed_pk: int
    profile_pk: int
    job_pk: int
    patron_pk: int
    code_table: str
    code_row_pk: int

    def value(self, page: Page, kwarg: str) -> object:
        """The value of `kwarg` in `page`'s URL; KeyError for an argument this walk does not
        know yet (the coverage test names it)."""
        name = page.name or ""
        if kwarg == "profile_pk":
            return self.profile_pk
        if kwarg in ("job_pk",):
            return self.job_pk
        if kwarg in ("patron_pk", "user_pk"):
            return self.patron_pk
        if kwarg in ("connection_pk",):
            return self.connection_pk
        if kwarg in ("table", "name", "table_name"):
            return self.code_table
        if kwarg == "pk":
            if page.namespace == "connections":
                return self.allowed_pk if "allowed" in name else self.connection_pk
            return {
                "profiles": self.profile_pk,
                "jobs": self.job_pk,
                "patrons": self.patron_pk,
                "web": self.code_row_pk,  # a row of `code_table`
            }[page.namespace]
        raise KeyError(kwarg)

    def url(self, page: Page) -> str:
        kwargs = {kwarg: self.value(page, kwarg) for kwarg in page.kwargs}
        return reverse(f"{page.namespace}:{page.name}", kwargs=kwargs)


# The keyword arguments that name one object of an institution: another institution's staff
# get 403 or 404 for them. A code table's name is every institution's: there, its own table.
OBJECT_KWARGS = {"pk", "profile_pk", "job_pk", "patron_pk", "user_pk", "connection_pk"}


@pytest.fixture
def world(institution, tmp_path) -> World:
    for folder in ("import", "synchronize"):
        (tmp_path / folder).mkdir()
    profile = make_profile(institution, tmp_path)
    profile_update(profile=profile, values={"name": MARKERS["profile"]}, actor="tests")
    connection_update(
        connection=profile.connection, values={"name": MARKERS["connection"]}, actor="tests"
    )
    allowed = AllowedConnection.objects.create(
        institution=institution, host="127.0.0.1", description=MARKERS["allowed"]
    )
    code_table_entry_declare(
        institution=institution,
        table="UserGroups",
        code="BILBY",
        values={"description": MARKERS["code"]},
    )
    code_row = CodeTableEntry.objects.get(institution=institution, code="BILBY")
    feed = users_doc(
        user_xml("quagga1", first="Ada", last=MARKERS["patron"]),
        user_xml("stranger1", last="Unknowngroup", group="NO_SUCH_GROUP"),  # rejected
    )
    write_zip(tmp_path / "synchronize" / "feed.zip", {"users.xml": feed})
    job = profile_run(profile=profile, kind="synchronize")
    patron = Patron.objects.get(institution=institution, last_name=MARKERS["patron"])
    return World(
        connection_pk=profile.connection.pk,
        allowed_pk=allowed.pk,
        profile_pk=profile.pk,
        job_pk=job.pk,
        patron_pk=patron.pk,
        code_table="UserGroups",
        code_row_pk=code_row.pk,
    )


@pytest.fixture
def client(client):
    """A client that answers a page's exception as its 500, so that one run lists every page
    that fails rather than stopping at the first."""
    client.raise_request_exception = False
    return client


def _body(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


def test_every_page_pattern_is_walked_and_built(world):
    pages = page_patterns()
    unbuildable = []
    for page in pages:
        if not page.name:
            unbuildable.append(f"{page.label}: no name, so no test can build its URL")
            continue
        try:
            world.url(page)
        except KeyError as exc:
            unbuildable.append(f"{page.label}: no value for URL argument {exc}")

    print("\n".join(page.label for page in pages))
    assert not unbuildable, "\n".join(unbuildable)
    namespaces = {page.namespace.split(":")[0] for page in pages}
    # The pages that exist from the start: users' search and page, Monitor Jobs and a report.
    assert {"patrons", "jobs"} <= namespaces
    assert {(p.namespace, p.name) for p in pages} >= {
        ("patrons", "list"),
        ("patrons", "detail"),
        ("jobs", "list"),
        ("jobs", "detail"),
    }


def test_anonymous_visitors_are_sent_to_the_login_page_from_every_page(client, world):
    wrong = []
    pages = page_patterns()
    for page in pages:
        url = world.url(page)
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            expected = f"/login/?next={quote(url)}"
            if response.status_code != 302 or response["Location"] != expected:
                where = response.get("Location", "")
                wrong.append(f"{method.upper()} {page.label}: {response.status_code} {where}")

    assert pages
    assert not wrong, "\n".join(wrong)


def test_another_institutions_administrator_never_reaches_this_institutions_objects(
    client, world, other_institution, staff
):
    client.force_login(staff(other_institution, StaffRole.GENERAL_SYSTEM_ADMINISTRATOR))
    wrong = []
    pages = page_patterns()
    for page in pages:
        url = world.url(page)
        names_an_object = bool(OBJECT_KWARGS & set(page.kwargs))
        for method in ("get", "post"):
            # Asking for the default institution by name changes nothing: it is not theirs.
            response = getattr(client, method)(url + "?institution=main")
            # 405: the page takes no such method, before it looks anything up.
            allowed = {403, 404, 405} if names_an_object else {200, 302, 400, 403, 404, 405}
            if response.status_code not in allowed:
                wrong.append(f"{method.upper()} {page.label}: {response.status_code}")
                continue
            body = _body(response)
            seen = [what for what, marker in MARKERS.items() if marker in body]
            if seen:
                wrong.append(f"{method.upper()} {page.label} shows the {', '.join(seen)}")

    assert pages
    assert not wrong, "\n".join(wrong)


def test_a_viewers_post_is_refused_on_every_page(client, world, institution, staff):
    client.force_login(staff(institution, StaffRole.VIEWER))
    wrong = []
    pages = page_patterns()
    for page in pages:
        response = client.post(world.url(page), {})
        if response.status_code not in (403, 405):
            wrong.append(f"POST {page.label}: {response.status_code}")

    assert pages
    assert not wrong, "\n".join(wrong)


def test_a_viewer_reads_every_page_that_takes_no_action(client, world, institution, staff):
    """A Viewer's GET is never a server error: each page either shows (read-only for this role)
    or refuses with 403 the pages that are only forms to change something."""
    client.force_login(staff(institution, StaffRole.VIEWER))
    wrong = []
    for page in page_patterns():
        response = client.get(world.url(page))
        if response.status_code not in (200, 403, 405):
            wrong.append(f"GET {page.label}: {response.status_code}")

    assert not wrong, "\n".join(wrong)


def test_a_user_managers_post_is_refused_on_every_page_but_the_users(
    client, world, institution, staff
):
    """A User Manager edits users, and nothing else: configuration and jobs stay the General
    System Administrator's, so a page guarded for user editing only fails here."""
    client.force_login(staff(institution, StaffRole.USER_MANAGER))
    wrong = []
    pages = [page for page in page_patterns() if page.namespace != "patrons"]
    for page in pages:
        response = client.post(world.url(page), {})
        if response.status_code not in (403, 405):
            wrong.append(f"POST {page.label}: {response.status_code}")

    assert pages
    assert not wrong, "\n".join(wrong)


class _Fields(HTMLParser):
    """The form fields of a page and the ids its labels name."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[dict[str, str | None]] = []
        self.labelled: set[str] = set()
        self._in_label = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "label":
            self._in_label += 1
            if values.get("for"):
                self.labelled.add(str(values["for"]))
        elif tag in ("input", "select", "textarea"):
            kind = (values.get("type") or "").lower()
            if kind not in ("hidden", "submit", "button", "reset", "image"):
                self.fields.append({**values, "_wrapped": "yes" if self._in_label else None})

    def handle_endtag(self, tag: str) -> None:
        if tag == "label" and self._in_label:
            self._in_label -= 1


def test_every_field_of_every_page_has_a_label(client, world, institution, staff):
    """Every input a General System Administrator meets has a <label> (or an aria-label):
    a screen reader names each field, as the pages' rule says."""
    client.force_login(staff(institution, StaffRole.GENERAL_SYSTEM_ADMINISTRATOR))
    unlabelled = []
    checked = 0
    for page in page_patterns():
        response = client.get(world.url(page))
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        parser = _Fields()
        parser.feed(_body(response))
        checked += len(parser.fields)
        for field in parser.fields:
            if field.get("_wrapped") or field.get("aria-label") or field.get("aria-labelledby"):
                continue
            if field.get("id") and field["id"] in parser.labelled:
                continue
            unlabelled.append(f"{page.label}: <{field.get('name') or field.get('id')}>")

    assert checked > 50  # the forms were read: the wizard, the definitions, the user's edit
    assert not unlabelled, "\n".join(unlabelled)


class _PostForms(HTMLParser):
    """Each POST form of a page: its action, and whether it carries the CSRF token."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[list] = []  # [action, has the token]
        self._open: list | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form" and (values.get("method") or "").lower() == "post":
            self._open = [values.get("action") or "", False]
            self.forms.append(self._open)
        elif tag == "input" and self._open and values.get("name") == "csrfmiddlewaretoken":
            self._open[1] = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = None


def test_every_post_form_of_every_page_carries_the_csrf_token(client, world, institution, staff):
    """A form posted without JavaScript (no htmx header) still passes the CSRF check."""
    client.force_login(staff(institution, StaffRole.GENERAL_SYSTEM_ADMINISTRATOR))
    missing = []
    forms = 0
    for page in page_patterns():
        response = client.get(world.url(page))
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        parser = _PostForms()
        parser.feed(_body(response))
        forms += len(parser.forms)
        missing += [f"{page.label}: form to {action!r}" for action, ok in parser.forms if not ok]

    assert forms > 10
    assert not missing, "\n".join(missing)


@pytest.mark.parametrize("role", [StaffRole.USER_MANAGER, StaffRole.GENERAL_SYSTEM_ADMINISTRATOR])
def test_every_page_answers_each_role_without_a_server_error(
    client, world, institution, staff, role
):
    client.force_login(staff(institution, role))
    wrong = []
    for page in page_patterns():
        response = client.get(world.url(page))
        if response.status_code not in (200, 302, 403, 405):
            wrong.append(f"GET {page.label}: {response.status_code}")

    assert not wrong, "\n".join(wrong)
