"""In a browser: an administrator allows the university's S/FTP server, defines an SFTP
connection to it, installs the public key the page shows, checks and trusts the server's key,
and tests the connection against a real sshd."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from patronsync.connections.tests.servers import LOOPBACK

from .conftest import log_in, menu_open


def test_allowed_connection_sftp_definition_and_its_test_against_a_real_sshd(
    page, live, sshd, shots
):
    log_in(page, shots=shots)
    page.locator("header.ps-header summary", has_text="Configuration").click()
    expect(page.get_by_role("link", name="Integration Profiles")).to_be_visible()
    shots.take(page, "02-menu")
    page.get_by_role("link", name="Allowed S/FTP connections", exact=True).click()

    # Allowed S/FTP connections: + Add Row with the server's address.
    expect(page.get_by_role("heading", name="Allowed S/FTP connections", level=1)).to_be_visible()
    expect(page.locator("#allowed-enforced")).to_contain_text("Applies now")
    page.get_by_role("button", name="+ Add Row").click()
    page.locator("#allowed-host").fill(LOOPBACK)
    page.locator("#allowed-description").fill("Registrar's S/FTP server")
    page.get_by_role("button", name="Add", exact=True).click()
    row = page.locator("tbody tr", has_text=LOOPBACK)
    expect(row).to_contain_text("Registrar's S/FTP server")
    expect(row).to_contain_text("Enabled")
    shots.take(page, "03-allowed-connections")

    # An SFTP definition of that server, with the folder the user is jailed in.
    menu_open(page, "S/FTP definitions")
    expect(page.get_by_role("heading", name="S/FTP definitions", level=1)).to_be_visible()
    page.locator("main a", has_text="+ Add S/FTP definition").click()
    page.locator("#id_name").fill("registrar-sftp")
    page.locator("#id_description").fill("The Registrar's nightly export")
    page.locator("#id_transport").select_option("sftp")
    page.locator("#id_server").fill(LOOPBACK)
    page.locator("#id_port").fill(str(sshd.port))
    page.locator("#id_sub_directory").fill("/upload")
    page.locator("#id_username").fill(sshd.user)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Update S/FTP connection")).to_be_visible()
    expect(page.locator(".ps-message-success")).to_be_visible()

    # The key pair was made on save: its public key is on the page, the private key never.
    public_key = page.locator("#public-key-text").inner_text().strip()
    assert public_key.startswith("ssh-ed25519 ")
    assert "PRIVATE KEY" not in page.content()
    expect(page.locator("#host-key")).to_contain_text("Not pinned yet")

    # Tested before the key is installed: the login is refused, and the page offers the key
    # the server shows, to compare with the one the server's administrator gives.
    page.get_by_role("button", name="Test connection").click()
    offered = page.locator("#offered-fingerprint")
    expect(offered).to_have_text(sshd.fingerprint())
    page.get_by_role("button", name="Trust this host key").click()
    expect(page.locator("#trust-box")).to_contain_text("Trusted")
    expect(page.locator("#trust-box")).to_contain_text(sshd.fingerprint())

    # The IT department installs the public key; the test now logs in and lists the folders.
    sshd.authorize(public_key)
    page.reload()
    expect(page.locator("#pinned-fingerprint")).to_have_text(sshd.fingerprint())
    page.get_by_role("button", name="Test connection").click()
    result = page.locator("#test-result .ps-test-result")
    expect(result).to_contain_text("Success")
    expect(result).to_contain_text("Connected to registrar-sftp and logged in")
    expect(page.locator("#trust-box")).to_have_count(0)
    page.locator("#test").scroll_into_view_if_needed()
    shots.take(page, "05-sftp-test-result")
    page.locator("main h1").scroll_into_view_if_needed()
    shots.take(page, "04-sftp-form", full_page=True)

    # The list says the server key is pinned.
    menu_open(page, "S/FTP definitions")
    listed = page.locator("tbody tr", has_text="registrar-sftp")
    expect(listed).to_contain_text("Pinned")
    expect(listed).to_contain_text(re.compile(rf"{LOOPBACK}:{sshd.port}"))
