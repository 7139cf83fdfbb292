"""In a browser: an administrator defines a local folder, walks the Integration Profile wizard
(with a schedule and its live next runs), drops a 30,000-user feed, runs Synchronize from the
profile's page and watches the progress bar move on the report and on Monitor Jobs until the
job is complete."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .conftest import JOB_TIMEOUT_MS, job_wait_ended, log_in, menu_open, run_menu

USERS = 30_000

# Every value a progress bar showed, as the page drew it (htmx replaces the bar every second):
# recorded in the page itself, so no poll of the test can miss one.
PROGRESS_RECORDER = """
window.__progress = [];
const record = () => document.querySelectorAll(".ps-live progress[value]").forEach((bar) =>
  window.__progress.push([Number(bar.getAttribute("value")), Number(bar.getAttribute("max"))])
);
new MutationObserver(record).observe(document, {subtree: true, childList: true, attributes: true});
"""


def test_wizard_then_a_synchronize_job_whose_progress_bar_moves(context, page, live, shots):
    feed = live.data_dir.parent / "sample-30000.zip"
    live.command("feed", "sample", "--users", str(USERS), "-o", str(feed))
    folder = live.drop_folder("campus")
    (folder / "synchronize").mkdir()
    (folder / "import").mkdir()
    context.add_init_script(PROGRESS_RECORDER)
    log_in(page)

    # A local folder of this machine as the profile's S/FTP definition.
    menu_open(page, "S/FTP definitions")
    page.locator("main a", has_text="+ Add S/FTP definition").click()
    page.locator("#id_name").fill("campus-drop")
    page.locator("#id_transport").select_option("local")
    page.locator("#id_sub_directory").fill(str(folder))
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".ps-message-success")).to_be_visible()

    # The wizard, step 1: code, name, type, connection, system, description.
    menu_open(page, "Integration Profiles")
    expect(page.get_by_role("heading", name="Integration Profile List")).to_be_visible()
    page.locator("main a", has_text="+ Add Integration Profile").click()
    expect(page.locator('.ps-steps [aria-current="step"]')).to_contain_text("Integration Profile")
    page.locator("#id_code").fill("SIS")
    page.locator("#id_name").fill("Student Information System")
    page.locator("#id_integration_type").select_option("USERS")
    option = page.locator("#id_connection option", has_text="campus-drop")
    page.locator("#id_connection").select_option(option.get_attribute("value"))
    page.locator("#id_system").fill("Campus Management")
    page.locator("#id_description").fill("The Registrar's nightly export of every student.")
    shots.take(page, "07-wizard-step-1")
    page.get_by_role("button", name="Next").click()

    # Step 2: Import inactive (its weekly schedule waits for it), Synchronize active.
    step = page.locator('.ps-steps [aria-current="step"]')
    expect(step).to_contain_text("Import and Synchronize")
    page.locator('input[name="import_active"][value="False"]').check()
    page.locator("#id_import_input_path").fill("import")
    page.locator("#id_import_schedule").select_option("WEEKLY_MON_0200")
    preview = page.locator("#import-schedule-preview")
    expect(preview).to_contain_text("Every Monday at 02:00")
    expect(preview.locator("ul.ps-next-runs li")).to_have_count(3)
    expect(preview.locator("ul.ps-next-runs li").first).to_contain_text(re.compile(r" 02:00:00 "))
    page.locator('input[name="sync_active"][value="True"]').check()
    page.locator("#id_sync_input_path").fill("synchronize")
    page.locator('input[name="sync_unmatched"][value="ADD"]').check()
    shots.take(page, "08-wizard-step-2", full_page=True)
    page.get_by_role("button", name="Save").click()

    # The profile's page, then the list.
    expect(page.get_by_role("heading", level=1)).to_contain_text("Student Information System")
    expect(page.locator("main")).to_contain_text("Every Monday at 02:00")
    menu_open(page, "Integration Profiles")
    row = page.locator("tbody tr", has_text="Student Information System")
    expect(row).to_contain_text("SIS")
    shots.take(page, "06-profile-list")
    row.get_by_role("link", name="Student Information System").click()

    # The feed lands; Run > Synchronize opens the job's report, which follows the job live.
    feed.rename(folder / "synchronize" / "students-2026-12-01.zip")
    run_menu(page, "Synchronize")
    expect(page).to_have_url(re.compile(r"/jobs/\d+/$"))
    report_url = page.url
    expect(page.get_by_role("heading", level=1)).to_have_text("Patron Import Results")
    expect(page.locator("main h2").first).to_have_text(
        "Users SYNCHRONIZE using profile Student Information System"
    )

    # Monitor Jobs, Running tab, beside it: the same bar, moving.
    monitor = context.new_page()
    monitor.goto("/jobs/")
    bar = monitor.locator(".ps-live progress[value]").first
    expect(bar).to_be_visible(timeout=JOB_TIMEOUT_MS)
    monitor.wait_for_function(
        "() => window.__progress.some(([done, total]) => done > 0 && done < total)",
        timeout=JOB_TIMEOUT_MS,
    )
    shots.take(monitor, "09-monitor-jobs-running")

    text = job_wait_ended(page)
    seen = page.evaluate("window.__progress") + monitor.evaluate("window.__progress")
    monitor.close()

    assert page.url == report_url
    moving = [done for done, total in seen if 0 < done < total]
    assert moving, f"no value between 0 and the total was drawn: {seen[:20]}"
    assert all(total == USERS for _, total in seen if total)
    assert "Completed" in text
    expect(page.locator("tr", has_text="Total records processed")).to_contain_text(str(USERS))
    expect(page.locator("tr", has_text="Total users created successfully")).to_contain_text(
        str(USERS)
    )
    expect(page.locator("tr", has_text="Total users rejected")).to_contain_text("0")
    shots.take(page, "10-report")
    chart = page.locator("figure.ps-trend")  # the profile's last jobs, as a chart
    expect(chart.locator("svg")).to_be_visible()
    chart.scroll_into_view_if_needed()
    shots.take(page, "11-report-chart")

    # Monitor Jobs' history lists it, ended.
    page.goto("/jobs/?tab=history")
    history = page.locator("tbody tr", has_text="Student Information System").first
    expect(history).to_contain_text("Completed")
    expect(history).to_contain_text(str(USERS))
