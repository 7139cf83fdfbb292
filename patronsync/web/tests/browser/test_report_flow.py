"""In a browser: a Synchronize job rejects the users whose user group the code tables lack; the
administrator reads the report and its CSV, adds the missing code from the report, and Run again
loads exactly the users it had rejected."""

from __future__ import annotations

import csv
import re

from playwright.sync_api import expect

from .conftest import (
    config_apply,
    feed_user,
    feed_write,
    job_wait_ended,
    log_in,
    menu_open,
    run_menu,
)

PROFILE = """
connections:
  - name: registrar-drop
    type: local
    path: {folder}
profiles:
  - code: REG
    name: Registrar feed
    connection: registrar-drop
    system: Campus Management
    synchronize:
      active: true
      record_type: PUBLIC
      match_id_type: PRIMARY_ID
      unmatched: ADD
      input_path: synchronize
      schedule: NOT_SCHEDULED
"""


def test_rejected_users_of_an_unknown_code_load_after_the_code_is_added(page, live, shots):
    folder = live.drop_folder("registrar")
    (folder / "synchronize").mkdir()
    config_apply(live, "registrar", PROFILE.format(folder=folder))
    known = [feed_user(f"REG{n:04d}", "Student", f"Known{n}") for n in range(1, 5)]
    visiting = [
        feed_user("REG9001", "Amara", "Okonkwo", group="VISITING_SCHOLAR"),
        feed_user("REG9002", "Li", "Wen", group="VISITING_SCHOLAR"),
    ]
    feed_write(folder / "synchronize" / "registrar-1.zip", [*known[:2], *visiting, *known[2:]])
    log_in(page)

    menu_open(page, "Integration Profiles")
    page.get_by_role("link", name="Registrar feed").click()
    run_menu(page, "Synchronize")
    expect(page).to_have_url(re.compile(r"/jobs/\d+/$"))
    first_report = page.url
    job_wait_ended(page)

    expect(page.locator("main h1 + p")).to_contain_text("Completed with errors")
    expect(page.locator("tr", has_text="Total records processed")).to_contain_text("6")
    expect(page.locator("tr", has_text="Total users created successfully")).to_contain_text("4")
    rejected = page.locator("tr", has_text="Total users rejected")
    expect(rejected).to_contain_text("2")

    # The rejected users, by the report's filter: their reason in Alma's words.
    rejected.get_by_role("link").click()
    records = page.locator("table.ps-records tbody")
    expect(records.locator("tr")).to_have_count(2)
    for user in visiting:
        expect(records).to_contain_text(str(user.primary_id))
    expect(records).to_contain_text("USER_GROUP_NOT_LEGAL")
    expect(records).not_to_contain_text("REG0001")

    # The alternative report: every record of the job as CSV.
    page.goto(first_report)
    with page.expect_download() as download:
        page.get_by_role("link", name="View alternative report").click()
    with open(download.value.path(), encoding="utf-8", newline="") as downloaded:
        rows = list(csv.DictReader(downloaded))
    assert sorted((row["primary_id"], row["outcome"]) for row in rows) == sorted(
        [(str(user.primary_id), "created") for user in known]
        + [(str(user.primary_id), "rejected") for user in visiting]
    )
    assert {row["reason_code"] for row in rows if row["outcome"] == "rejected"} == {
        "USER_GROUP_NOT_LEGAL"
    }

    # The report names the missing code once, with the users it rejected; add it from there.
    unknown = page.locator("#unknown-codes")
    code_row = unknown.locator("tbody tr", has_text="VISITING_SCHOLAR")
    expect(code_row).to_contain_text("UserGroups")
    expect(code_row).to_contain_text("Missing")
    expect(code_row.locator("td").nth(2)).to_have_text("2")
    expect(page.locator("#run-again")).to_have_count(0)  # not before the code is there
    code_row.get_by_label("Description of VISITING_SCHOLAR").fill("Visiting scholar")
    unknown.scroll_into_view_if_needed()
    shots.take(page, "12-report-unknown-codes")
    code_row.get_by_role("button", name="Add to the code table").click()
    expect(page.locator(".ps-message-success")).to_contain_text("VISITING_SCHOLAR")
    expect(page.locator("#unknown-codes tbody tr", has_text="VISITING_SCHOLAR")).to_contain_text(
        "In the table"
    )

    # Run again: a new job of the profile loads the two rejected users, and only them.
    page.locator("#run-again").get_by_role("button", name="Run again").click()
    expect(page).to_have_url(re.compile(r"/jobs/\d+/$"))
    assert page.url != first_report
    rerun_of = page.locator("#rerun-of")
    expect(rerun_of).to_contain_text("again the rejected users of job")
    first_path = first_report.removeprefix(live.url)
    expect(rerun_of.locator(f'a[href="{first_path}"]')).to_have_count(1)
    job_wait_ended(page)
    expect(page.locator("main h1 + p")).to_contain_text("Completed successfully")
    expect(page.locator("tr", has_text="Total records processed")).to_contain_text("2")
    expect(page.locator("tr", has_text="Total users created successfully")).to_contain_text("2")
    expect(page.locator("tr", has_text="Total users rejected")).to_contain_text("0")

    # The first report links its re-run; the code table has the new row.
    page.goto(first_report)
    expect(page.locator("#reruns")).to_contain_text("Completed successfully")
    menu_open(page, "Code tables")
    expect(page.get_by_role("heading", name="Code tables", level=1)).to_be_visible()
    shots.take(page, "13-code-tables")
    page.locator("main table a", has_text=re.compile("^User groups$")).click()
    new_row = page.locator("tbody tr", has_text="VISITING_SCHOLAR")
    expect(new_row).to_contain_text("Visiting scholar")
    shots.take(page, "14-code-table-user-groups")
