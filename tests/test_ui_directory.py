"""Directory administration in a real browser: an application created with its connector, then
people assigned to it, checked in the SCIM target itself."""

from playwright.sync_api import expect

from api.worker import Worker
from engine import encryption
from engine.directory.lookup import application_by_key
from tests.provisioning_support import scim_users
from tests.scim_server import SCIM_TOKEN, scim_server, scim_server_process  # noqa: F401

pytest_plugins = ["tests.browser"]


def test_an_admin_creates_a_connected_app_and_assigns_people(log_in, server, scim_server):  # noqa: F811
    root = log_in("root")
    root.goto(f"{server.url}/admin/applications")
    root.get_by_role("link", name="New application").click()
    root.get_by_label("Key").fill("hr")
    root.get_by_label("Name", exact=True).fill("HR")
    root.get_by_label("Connected: a connector creates accounts").check()
    root.get_by_label("Fulfiller group").select_option("it-fulfillers")
    root.get_by_label("Base URL").fill(scim_server)
    root.get_by_label("Bearer token").fill(SCIM_TOKEN)
    root.get_by_label("Matching attribute").select_option("userName")
    root.get_by_label("Most attempts").fill("2")
    root.get_by_role("button", name="Create application").click()

    expect(root.get_by_role("status")).to_contain_text("Application HR created")
    expect(root.get_by_role("heading", level=1)).to_contain_text("HR")
    expect(root.locator(".connector-settings")).to_contain_text("********")
    expect(root.locator("main")).not_to_contain_text(SCIM_TOKEN)
    root.get_by_role("button", name="Test connection").click()
    expect(root.locator(".test-result")).to_contain_text("Connection works")

    root.get_by_text("Edit connector settings…").click()
    expect(root.get_by_label("Bearer token")).to_have_value("")
    expect(root.get_by_label("Bearer token")).to_have_attribute("placeholder", "******** (set)")
    root.get_by_label("Longest retry delay (seconds)").fill("60")
    root.get_by_role("button", name="Save connector").click()
    expect(root.get_by_role("status")).to_contain_text("Connector settings saved")

    root.get_by_label("People", exact=True).select_option(["alice", "bob"])
    root.get_by_label("Create a new account").check()
    root.get_by_label("Reason", exact=True).fill("HR pilot")
    root.get_by_role("button", name="Assign").click()
    expect(root.get_by_role("status")).to_contain_text("Assigned to alice, bob")
    expect(root.locator("table.assignments tbody tr")).to_have_count(2)

    with server.engine() as app:
        Worker(app).run_until_idle(timeout=30)
        stored = encryption.reveal(application_by_key("hr").connector_settings, "hr")
    assert stored["token"] == SCIM_TOKEN and stored["backoff_max_seconds"] == 60
    assert sorted(u["userName"] for u in scim_users(scim_server)) == ["alice", "bob"]
    root.reload()
    accounts = root.locator("table.accounts tbody tr")
    expect(accounts).to_have_count(2)
    expect(accounts.filter(has_text="alice")).to_contain_text("active")
    expect(root.locator("main")).not_to_contain_text(SCIM_TOKEN)
