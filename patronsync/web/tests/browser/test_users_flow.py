"""In a browser: a user manager finds Müller by typing "muller", changes her user group (a
protected field), sees the change survive the next Synchronize, restores it, and sees the SIS's
value come back with the Synchronize after that."""

from __future__ import annotations

import datetime as dt
import re

from playwright.sync_api import Page, expect

from .conftest import config_apply, feed_user, feed_write, log_in

PROFILE = """
connections:
  - name: students-drop
    type: local
    path: {folder}
profiles:
  - code: STU
    name: Student records
    connection: students-drop
    system: Campus Management
    synchronize:
      active: true
      record_type: PUBLIC
      match_id_type: PRIMARY_ID
      unmatched: ADD
      input_path: synchronize
      schedule: NOT_SCHEDULED
"""


def field_value(page: Page, label: str):
    """The value beside `label` on a user's page."""
    term = page.locator("dl.ps-fields dt", has_text=re.compile(rf"^{re.escape(label)}$")).first
    return term.locator("xpath=following-sibling::dd[1]")


def test_find_edit_a_protected_field_survive_a_synchronize_restore(page, live, shots):
    folder = live.drop_folder("students")
    (folder / "synchronize").mkdir()
    config_apply(live, "students", PROFILE.format(folder=folder))
    others = [
        feed_user("STU0001", "Jonas", "Muller"),  # no accent in the SIS
        feed_user("STU0002", "Ana", "Ferreira"),
        feed_user("STU0003", "Kofi", "Mensah", group="GRAD"),
    ]

    def synchronize(name: str, group: str, expiry: dt.date) -> None:
        her = feed_user("STU0100", "Wilhelmina", "Müller", group=group, expiry=expiry)
        feed_write(folder / "synchronize" / name, [*others, her])
        live.command("run", "STU", "--synchronize")

    synchronize("students-1.zip", "UNDERGRAD", dt.date(2030, 1, 31))
    log_in(page)

    # Found without the accent, whatever the case; a name with and one without it.
    page.get_by_role("navigation", name="Main menu").get_by_role("link", name="Users").click()
    page.get_by_role("searchbox", name="Find a user").fill("muller")
    page.get_by_role("button", name="Find").click()
    expect(page.locator("main p[role=status]")).to_contain_text("found for “muller”")
    names = page.locator("main table tbody tr td:nth-child(2)")
    expect(names.first).to_be_visible()
    assert all(re.match(r"^(Müller|Muller)\b", name) for name in names.all_inner_texts()), (
        names.all_inner_texts()
    )
    shots.take(page, "15-user-search")
    shots.phone(page, "phone-user-search")
    page.get_by_role("searchbox", name="Find a user").fill("wilhelmina MULLER")
    page.get_by_role("button", name="Find").click()
    expect(page.locator("main table tbody tr")).to_have_count(1)
    row = page.locator("main table tbody tr").first
    expect(row).to_contain_text("Müller, Wilhelmina")
    row.get_by_role("link", name="STU0100").click()

    # Her page: every field with its source.
    expect(page.get_by_role("heading", level=1)).to_contain_text("Müller")
    expect(page.locator("main hgroup")).to_contain_text("from integration profile STU")
    expect(field_value(page, "User group")).to_contain_text("(UNDERGRAD)")
    shots.take(page, "16-user-page")
    shots.phone(page, "phone-user-page")
    user_page = page.url

    # The library changes her user group: a protected field.
    page.locator("main a", has_text="Edit user").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Edit")
    group = page.locator("#id_user_group")
    expect(page.locator('label[for="id_user_group"]')).to_contain_text("protected")
    group.select_option("STAFF")
    shots.take(page, "17-user-edit")
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(user_page)
    expect(page.locator(".ps-message-success")).to_be_visible()
    expect(field_value(page, "User group")).to_contain_text("(STAFF)")
    expect(field_value(page, "User group")).to_contain_text("UNDERGRAD")  # what the SIS holds

    # The SIS's next feed changes her (a new expiry date, another group): the library's user
    # group stands, the rest follows the SIS.
    synchronize("students-2.zip", "GRAD", dt.date(2031, 6, 30))
    page.reload()
    expect(field_value(page, "Expiry date")).to_contain_text("2031-06-30")
    expect(field_value(page, "User group")).to_contain_text("(STAFF)")
    expect(page.locator(".ps-protected")).to_have_count(1)

    # Restore: the field is the SIS's again, at once with the value it held back ...
    page.get_by_role("button", name="Restore User group from the SIS").click()
    expect(page.locator(".ps-message-success")).to_be_visible()
    expect(field_value(page, "User group")).not_to_contain_text("(STAFF)")
    expect(field_value(page, "User group")).to_contain_text("(UNDERGRAD)")
    expect(page.locator(".ps-protected")).to_have_count(0)

    # ... and the next Synchronize sets the SIS's current value.
    synchronize("students-3.zip", "GRAD", dt.date(2032, 1, 31))
    page.reload()
    expect(field_value(page, "Expiry date")).to_contain_text("2032-01-31")
    expect(field_value(page, "User group")).to_contain_text("(GRAD)")

    # The history says who changed what: the library's edit, the restore and the jobs.
    history = page.locator("section", has=page.locator("h2#history"))
    expect(history).to_contain_text("admin")
    expect(history).to_contain_text("User group")
    history.scroll_into_view_if_needed()
    shots.take(page, "18-user-history")
