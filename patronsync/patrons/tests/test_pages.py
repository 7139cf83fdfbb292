"""The user pages: who may see and edit what, the readable record, editing, Restore, history."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.hashers import check_password
from django.urls import reverse

from patronsync.accounts.choices import StaffRole
from patronsync.jobs.services import profile_run
from patronsync.loader.tests.conftest import make_profile, user_xml, users_doc, write_zip
from patronsync.patrons.models import Patron, PatronChange
from patronsync.patrons.selectors import patron_get_by_primary_id
from patronsync.patrons.services import Actor, patron_update
from patronsync.patrons.tests.factories import patron_factory

pytestmark = pytest.mark.django_db

GSA = StaffRole.GENERAL_SYSTEM_ADMINISTRATOR
MANAGER = StaffRole.USER_MANAGER
VIEWER = StaffRole.VIEWER


def form_data(response):
    """What a browser sends back from the edit page as it came: every field's shown value."""
    data = {}

    def put(bound):
        value = bound.value()
        if isinstance(value, bool):
            if value:
                data[bound.html_name] = "on"
        elif isinstance(value, dt.date):
            data[bound.html_name] = value.isoformat()
        elif isinstance(value, list):
            data[bound.html_name] = [v for v in value if v]
        elif value is not None:
            data[bound.html_name] = value
        elif bound.widget_type != "selectmultiple":
            data[bound.html_name] = ""  # an empty input or a select on its blank first choice

    for bound in response.context["form"]:
        put(bound)
    for section in response.context["sections"]:
        formset = section["formset"]
        for bound in formset.management_form:
            put(bound)
        for form in formset:
            for bound in form:
                put(bound)
    data["version"] = response.context["version"]  # the page's hidden stamp of the user
    return data


@pytest.fixture
def patron(institution):
    return patron_factory(
        institution,
        primary_id="m-1",
        first_name="Anna",
        last_name="Müller",
        user_group={"value": "GRAD"},
    )


@pytest.fixture
def feed(institution, tmp_path):
    """A Synchronize of the quick start's profile over the users given: returns the job."""
    for folder in ("import", "synchronize"):
        (tmp_path / folder).mkdir()
    profile = make_profile(institution, tmp_path)
    files = iter(range(1, 100))

    def run(*users):
        write_zip(
            tmp_path / "synchronize" / f"day{next(files)}.zip", {"users.xml": users_doc(*users)}
        )
        return profile_run(profile=profile, kind="synchronize")

    return run


def urls(pk):
    return {
        "detail": reverse("patrons:detail", args=[pk]),
        "edit": reverse("patrons:edit", args=[pk]),
        "history": reverse("patrons:history", args=[pk]),
        "restore": reverse("patrons:restore", args=[pk]),
    }


# Permissions ----------------------------------------------------------------------------------


def test_anonymous_is_sent_to_login_from_every_page(client, patron):
    for url in [reverse("patrons:list"), *urls(patron.pk).values()]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/"), url
    for name in ("edit", "restore"):
        response = client.post(urls(patron.pk)[name], {"field": "user_group"})
        assert response["Location"].startswith("/login/")


def test_viewer_sees_users_but_may_not_edit_or_restore(client, staff, institution, patron):
    client.force_login(staff(institution, VIEWER))
    for url in (reverse("patrons:list"), urls(patron.pk)["detail"], urls(patron.pk)["history"]):
        assert client.get(url).status_code == 200, url
    detail = client.get(urls(patron.pk)["detail"]).content.decode()
    assert "Edit user" not in detail
    assert client.get(urls(patron.pk)["edit"]).status_code == 403
    assert client.post(urls(patron.pk)["edit"], {"last_name": "X"}).status_code == 403
    assert client.post(urls(patron.pk)["restore"], {"field": "user_group"}).status_code == 403
    patron.refresh_from_db()
    assert patron.last_name == "Müller"


@pytest.mark.parametrize("role", [MANAGER, GSA])
def test_user_managers_and_administrators_edit(client, staff, institution, patron, role):
    client.force_login(staff(institution, role))
    assert "Edit user" in client.get(urls(patron.pk)["detail"]).content.decode()
    page = client.get(urls(patron.pk)["edit"])
    assert page.status_code == 200
    data = form_data(page)
    data["job_description"] = "Research assistant"
    response = client.post(urls(patron.pk)["edit"], data)
    assert response.status_code == 302
    assert response["Location"] == urls(patron.pk)["detail"]
    patron.refresh_from_db()
    assert patron.job_description == "Research assistant"


@pytest.mark.parametrize("role", [VIEWER, MANAGER, GSA])
def test_another_institutions_staff_get_404(client, staff, other_institution, patron, role):
    client.force_login(staff(other_institution, role))
    for name in ("detail", "history"):
        assert client.get(urls(patron.pk)[name]).status_code == 404
    expected = 403 if role == VIEWER else 404
    assert client.get(urls(patron.pk)["edit"]).status_code == expected
    assert client.post(urls(patron.pk)["edit"], {"last_name": "X"}).status_code == expected
    assert client.post(urls(patron.pk)["restore"], {"field": "user_group"}).status_code == expected
    assert "m-1" not in client.get(reverse("patrons:list") + "?q=muller").content.decode()


def test_a_get_of_the_edit_page_writes_nothing(client, staff, institution, patron):
    client.force_login(staff(institution, MANAGER))
    before = (PatronChange.objects.count(), Patron.objects.get(pk=patron.pk).updated_at)
    client.get(urls(patron.pk)["edit"])
    after = (PatronChange.objects.count(), Patron.objects.get(pk=patron.pk).updated_at)
    assert before == after


def test_saving_the_form_unchanged_writes_nothing(client, staff, institution, patron):
    client.force_login(staff(institution, MANAGER))
    history = PatronChange.objects.count()
    response = client.post(urls(patron.pk)["edit"], form_data(client.get(urls(patron.pk)["edit"])))
    assert response.status_code == 302
    assert PatronChange.objects.count() == history
    patron.refresh_from_db()
    assert patron.protection.get("user_group", {}).get("manual") is not True


# Search page ----------------------------------------------------------------------------------


def test_search_page_finds_by_accent_free_name_and_shows_the_columns(
    client, staff, institution, patron
):
    patron_factory(institution, primary_id="z-9", first_name="Zed", last_name="Zimmer")
    client.force_login(staff(institution, VIEWER))
    page = client.get(reverse("patrons:list"), {"q": "anna MULLER"}).content.decode()
    assert "1 user found" in page
    assert urls(patron.pk)["detail"] in page
    assert "Graduate student (GRAD)" in page
    assert "2030-01-31" in page
    assert "External" in page
    assert "z-9" not in page


def test_search_page_pages_its_results(client, staff, institution):
    for n in range(52):
        patron_factory(institution, primary_id=f"p{n:02d}", first_name="Pat", last_name="Page")
    client.force_login(staff(institution, VIEWER))
    first = client.get(reverse("patrons:list"), {"q": "page"}).content.decode()
    assert "52 users found" in first
    assert "page 1 of 2" in first
    second = client.get(reverse("patrons:list"), {"q": "page", "page": 2})
    assert len(second.context["rows"]) == 2


# The user page --------------------------------------------------------------------------------


def test_user_page_shows_sections_codes_and_segment_sources(client, staff, institution, patron):
    client.force_login(staff(institution, VIEWER))
    page = client.get(urls(patron.pk)["detail"]).content.decode()
    for heading in ("General information", "Contact information", "Identifiers", "Notes"):
        assert heading in page
    assert "Statistics" in page
    assert "Blocks" in page
    assert "Account" in page
    assert "Graduate student (GRAD)" in page  # a code with its description
    assert "Science" in page  # the statistic category's description
    assert "1 Main Street" in page
    assert "Barcode" in page
    assert '<span class="ps-badge">External</span>' in page


# Editing, Synchronize and Restore ---------------------------------------------------------------


def _edit(client, patron, **changes):
    data = form_data(client.get(urls(patron.pk)["edit"]))
    data.update(changes)
    return client.post(urls(patron.pk)["edit"], data)


def test_edited_protected_field_is_marked_and_survives_a_synchronize(
    client, staff, institution, feed
):
    feed(user_xml("s-1", first="Anna", last="Muller", group="GRAD"))
    patron = patron_get_by_primary_id(institution=institution, primary_id="s-1")
    manager = staff(institution, MANAGER, username="maria.manager")
    client.force_login(manager)
    assert _edit(client, patron, user_group="STAFF").status_code == 302
    patron.refresh_from_db()
    assert patron.user_group == "STAFF"
    assert patron.is_manually_changed("user_group")

    page = client.get(urls(patron.pk)["detail"]).content.decode()
    assert "Changed in the library: held until the SIS repeats its last value" in page
    assert "holds back: Graduate student (GRAD)" in page
    assert 'name="field" value="user_group"' in page  # its Restore button

    # The SIS sends the user again, with a new first name and a new group: the group stands.
    job = feed(user_xml("s-1", first="Anne", last="Muller", group="FACULTY"))
    assert job.updated == 1
    patron.refresh_from_db()
    assert (patron.first_name, patron.user_group) == ("Anne", "STAFF")

    change = PatronChange.objects.filter(patron=patron, actor_kind="staff").get()
    assert change.actor_user == manager
    assert change.changes["user_group"] == {"before": "GRAD", "after": "STAFF"}
    history = client.get(urls(patron.pk)["history"]).content.decode()
    assert "maria.manager" in history
    assert f'href="/jobs/{job.id}/"' in history
    assert '<td class="ps-before">Graduate student (GRAD)</td>' in history
    assert '<td class="ps-after">Staff (STAFF)</td>' in history


def test_restore_gives_the_field_back_to_the_sis(client, staff, institution, feed):
    feed(user_xml("s-2", group="GRAD"))
    patron = patron_get_by_primary_id(institution=institution, primary_id="s-2")
    client.force_login(staff(institution, MANAGER, username="rita.restorer"))
    _edit(client, patron, user_group="STAFF")

    response = client.post(urls(patron.pk)["restore"], {"field": "user_group"})
    assert response.status_code == 302
    patron.refresh_from_db()
    assert patron.user_group == "GRAD"
    assert not patron.is_manually_changed("user_group")
    restore = PatronChange.objects.filter(patron=patron, actor_kind="staff").first()
    assert restore.actor_label == "rita.restorer"
    assert restore.changes["user_group"] == {"before": "STAFF", "after": "GRAD"}
    assert restore.changes["kept_by_staff"] == {"before": ["user_group"], "after": []}
    page = client.get(urls(patron.pk)["detail"]).content.decode()
    assert "held until the SIS repeats" not in page

    feed(user_xml("s-2", group="FACULTY"))  # the SIS again decides the group
    patron.refresh_from_db()
    assert patron.user_group == "FACULTY"


def test_restore_of_a_field_the_library_did_not_change_says_so(client, staff, institution, patron):
    client.force_login(staff(institution, MANAGER))
    response = client.post(urls(patron.pk)["restore"], {"field": "user_group"}, follow=True)
    assert (
        "User group: Field user_group was not changed in the library" in response.content.decode()
    )
    response = client.post(urls(patron.pk)["restore"], {"field": "last_name"}, follow=True)
    assert "is not a protected field" in response.content.decode()


def test_internal_segments_are_added_and_kept_by_a_synchronize(client, staff, institution, feed):
    feed(user_xml("s-3", email="s3@uni.edu"))
    patron = patron_get_by_primary_id(institution=institution, primary_id="s-3")
    client.force_login(staff(institution, MANAGER))
    page = client.get(urls(patron.pk)["edit"])
    assert "s3@uni.edu" in page.content.decode()  # shown, read-only: the SIS owns it
    data = form_data(page)
    data.update(
        {
            "email-0-email_address": "anna@library.example",
            "email-0-email_type": ["personal"],
            "note-0-note_type": "LIBRARY",
            "note-0-note_text": "Prefers the branch library",
            "identifier-0-id_type": "NET_ID",
            "identifier-0-value": "amuller",
        }
    )
    assert client.post(urls(patron.pk)["edit"], data).status_code == 302
    feed(user_xml("s-3", first="Changed", email="s3@uni.edu"))
    patron.refresh_from_db()
    emails = [(e["email_address"], e["segment_type"]) for e in patron.segments["email"]]
    assert emails == [("anna@library.example", "Internal"), ("s3@uni.edu", "External")]
    assert patron.segments["user_note"][0]["note_text"] == "Prefers the branch library"
    assert patron.identifiers.filter(value="amuller", segment_type="Internal").exists()
    detail = client.get(urls(patron.pk)["detail"]).content.decode()
    assert '<span class="ps-badge">Internal</span>' in detail

    # An internal segment is edited and removed on the same page.
    data = form_data(client.get(urls(patron.pk)["edit"]))
    data["note-0-note_text"] = "Prefers the main library"
    data["email-0-DELETE"] = "on"
    assert client.post(urls(patron.pk)["edit"], data).status_code == 302
    patron.refresh_from_db()
    assert [e["email_address"] for e in patron.segments["email"]] == ["s3@uni.edu"]
    assert patron.segments["user_note"][0]["note_text"] == "Prefers the main library"


def test_form_errors_are_shown_beside_the_field_and_name_it(client, staff, institution, patron):
    client.force_login(staff(institution, MANAGER))
    response = _edit(client, patron, expiry_date="31/31/2030", last_name="")
    assert response.status_code == 400
    page = response.content.decode()
    assert (
        '<small class="ps-field-error" id="id_expiry_date-error">Expiry date: Enter a valid' in page
    )
    assert 'aria-invalid="true"' in page
    assert 'aria-describedby="id_expiry_date-error"' in page
    assert "Last name: This field is required." in page
    patron.refresh_from_db()
    assert patron.last_name == "Müller"


def test_rule_errors_are_shown_beside_the_field(client, staff, institution, patron):
    patron_factory(
        institution,
        primary_id="holder",
        user_identifier=[{"id_type": {"value": "BARCODE"}, "value": "TAKEN-1"}],
    )
    client.force_login(staff(institution, MANAGER))
    data = form_data(client.get(urls(patron.pk)["edit"]))
    data.update({"identifier-0-id_type": "NET_ID", "identifier-0-value": "taken-1"})
    response = client.post(urls(patron.pk)["edit"], data)
    assert response.status_code == 400
    page = response.content.decode()
    assert 'id="id_identifier-0-value-error">Value: User with identifier taken-1' in page
    assert "(used by user holder)" in page
    assert not patron.identifiers.filter(value="taken-1").exists()


def test_restore_of_the_pin_lets_the_next_synchronize_set_the_sis_pin(
    client, staff, institution, feed
):
    pin = "<pin_number>1111</pin_number>"
    feed(user_xml("s-4", extra=pin))
    patron = patron_get_by_primary_id(institution=institution, primary_id="s-4")
    patron_update(patron=patron, data={"pin_number": "2222"}, actor=Actor.api("API key desk"))
    patron.refresh_from_db()
    assert patron.is_manually_changed("pin_number")
    client.force_login(staff(institution, MANAGER))
    page = client.get(urls(patron.pk)["detail"]).content.decode()
    assert "the SIS&#x27;s PIN (never shown)" in page
    assert "1111" not in page
    assert "2222" not in page
    assert client.post(urls(patron.pk)["restore"], {"field": "pin_number"}).status_code == 302
    patron.refresh_from_db()
    assert not patron.is_manually_changed("pin_number")
    assert check_password("2222", patron.pin_hash)  # kept until the SIS sends its PIN again
    feed(user_xml("s-4", extra=pin))  # the very same record: compared again, not skipped
    patron.refresh_from_db()
    assert check_password("1111", patron.pin_hash)


def test_a_new_pin_alone_is_written_by_a_synchronize_and_by_a_second_edit(institution, feed):
    """What Restore of the PIN relies on: a PIN change is a change, though history masks it."""
    feed(user_xml("s-5", extra="<pin_number>1111</pin_number>"))
    patron = patron_get_by_primary_id(institution=institution, primary_id="s-5")
    job = feed(user_xml("s-5", extra="<pin_number>3333</pin_number>"))
    assert job.updated == 1
    patron.refresh_from_db()
    assert check_password("3333", patron.pin_hash)
    change = PatronChange.objects.filter(patron=patron, action="updated").first()
    assert change.changes["pin_number"] == {"before": "********", "after": "********"}
    for pin in ("4444", "5555"):  # the second edit finds the field already marked
        patron_update(patron=patron, data={"pin_number": pin}, actor=Actor.api("API key desk"))
        patron.refresh_from_db()
        assert check_password(pin, patron.pin_hash)


def test_a_save_over_a_user_changed_since_the_page_was_opened_is_refused(
    client, staff, institution, patron, system_actor
):
    # A job (here the system) changes the user while the edit page is open: saving the page's
    # old values would put them back over the change and mark them the library's.
    client.force_login(staff(institution, MANAGER))
    page = client.get(urls(patron.pk)["edit"])
    data = form_data(page)
    data["job_description"] = "Research assistant"
    patron_update(patron=patron, data={"last_name": "Meier"}, actor=system_actor)

    response = client.post(urls(patron.pk)["edit"], data)

    assert response.status_code == 409
    assert "was changed since this page was opened" in response.content.decode()
    patron.refresh_from_db()
    assert (patron.last_name, patron.job_description) == ("Meier", "")
    fresh = form_data(response)  # the page shows the user as stored now, ready to edit again
    fresh["job_description"] = "Research assistant"
    assert client.post(urls(patron.pk)["edit"], fresh).status_code == 302
    patron.refresh_from_db()
    assert (patron.last_name, patron.job_description) == ("Meier", "Research assistant")
