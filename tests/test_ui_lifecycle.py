"""The access lifecycle in a real browser: groups, leavers, admin assignments, My access."""

from playwright.sync_api import expect
from sqlalchemy import select

from engine.access.grants import assign_users
from engine.db import db
from engine.directory.lookup import application_by_key, user_by_username
from engine.models import RequestItem
from tests.flow import act, decide

pytest_plugins = ["tests.browser"]

PHONE = {"width": 390, "height": 844}


def open_item(username, key="crm"):
    return db.session.scalar(
        select(RequestItem).where(
            RequestItem.beneficiary_id == user_by_username(username).id,
            RequestItem.application_id == application_by_key(key).id,
            RequestItem.open_key.is_not(None),
        )
    )


def fulfil(username, account_id, key="crm"):
    decide(user_by_username("fred"), open_item(username, key), account_id=account_id)


def assigned_crm(server, *usernames):
    """An admin assigns CRM to these people and fred sets each account up."""
    with server.engine():
        act(assign_users, user_by_username("root"), "crm", list(usernames), reason="set up")
        for username in usernames:
            fulfil(username, f"CRM-{username}")


def test_a_group_grant_goes_to_the_fulfillers_then_shows_in_my_access(log_in, server):
    root = log_in("root")
    root.goto(f"{server.url}/admin/groups")
    root.get_by_label("New group name").fill("sales")
    root.get_by_role("button", name="Create group").click()
    expect(root.get_by_role("heading", level=1)).to_have_text("sales")
    root.get_by_label("Application", exact=True).select_option("crm")
    root.get_by_role("button", name="Grant to members").click()
    expect(root.get_by_role("status")).to_contain_text("sales grants CRM")
    root.get_by_label("Add by username").fill("alice")
    root.get_by_role("button", name="Add member").click()
    expect(root.get_by_role("status")).to_contain_text("Added to sales: alice")
    expect(root.locator(".grants")).to_contain_text("held by 1 of 1")

    fred = log_in("fred")
    fred.goto(f"{server.url}/inbox")
    row = fred.locator("tbody tr").filter(has_text="Alice Archer")
    expect(row).to_contain_text("Set up the account")
    expect(row).to_contain_text("CRM")

    with server.engine():
        item_id = open_item("alice").id
        fulfil("alice", "CRM-42")
    alice = log_in("alice")
    alice.get_by_role("navigation", name="Main").get_by_role("link", name="My access").click()
    access = alice.locator("table.access tbody tr").filter(has_text="CRM")
    expect(access).to_contain_text("CRM-42")
    expect(access).to_contain_text("group sales")
    expect(access).to_contain_text("membership of sales")
    expect(access.get_by_role("button", name="Request removal")).to_have_count(0)
    root.goto(f"{server.url}/items/{item_id}")
    expect(root.locator(".item-origin")).to_have_text("Group membership")


def test_an_admin_deactivates_bob_and_his_access_goes(log_in, server):
    assigned_crm(server, "bob")
    root = log_in("root")
    root.goto(f"{server.url}/admin/people?name=bob")
    root.get_by_role("link", name="Bob Baker").click()
    expect(root.locator("table.access")).to_contain_text("CRM-bob")
    root.get_by_text("Deactivate (leaver)…").click()
    root.get_by_label("Reason", exact=True).fill("left the company")
    root.get_by_label("Type bob to confirm").fill("bob")
    root.get_by_role("button", name="Deactivate bob").click()
    expect(root.get_by_role("status")).to_contain_text("bob is deactivated")
    expect(root.get_by_role("heading", level=1)).to_contain_text("deactivated")
    expect(root.get_by_text("No current access.")).to_be_visible()
    expect(root.locator("#person-items + ul")).to_contain_text("CRM")  # the removal item
    expect(root.locator("table.audit")).to_contain_text("user_deactivated")
    expect(root.get_by_role("button", name="Reactivate")).to_be_visible()


def test_an_admin_assigns_users_from_the_application_page(log_in, server):
    root = log_in("root")
    root.goto(f"{server.url}/admin/applications/crm")
    root.get_by_label("People", exact=True).select_option(["alice", "bob"])
    root.get_by_label("Create a new account").check()
    root.get_by_label("Reason", exact=True).fill("new team")
    root.get_by_role("button", name="Assign").click()
    expect(root.get_by_role("status")).to_contain_text("Assigned to alice, bob")
    rows = root.locator("table.assignments tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="Alice Archer")).to_contain_text("admin")

    with server.engine():
        fulfil("bob", "CRM-b")
    root.reload()
    expect(root.locator("table.accounts")).to_contain_text("CRM-b")
    root.once("dialog", lambda dialog: dialog.accept())
    root.get_by_role("button", name="End bob").click()
    expect(root.get_by_role("status")).to_contain_text("Assignment of bob ended")
    expect(rows).to_have_count(1)


def test_my_access_fits_a_phone_and_offers_removal(log_in, server):
    assigned_crm(server, "alice")
    alice = log_in("alice", viewport=PHONE)
    alice.goto(f"{server.url}/my-access")
    expect(alice.locator("table.access")).to_contain_text("CRM-alice")
    width = alice.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"/my-access scrolls sideways ({width}px)"
    alice.get_by_role("button", name="Request removal").click()
    expect(alice.get_by_role("status")).to_contain_text("Removal of CRM added to your cart")
    expect(alice.locator("main")).to_contain_text("Remove existing account")
