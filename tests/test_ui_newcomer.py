"""Issue 16, what a newcomer trips over on the pages: each story fails if its fix is undone."""

import re

from playwright.sync_api import expect

from api.worker import Worker
from engine.db import db
from engine.directory.lookup import application_by_key, user_by_username
from engine.models import Account
from engine.requests import cart
from engine.tasks import actions
from engine.unit_of_work import unit_of_work
from tests.flow import act, decide, open_task, submit
from tests.scim_server import SCIM_TOKEN, scim_server, scim_server_process  # noqa: F401

pytest_plugins = ["tests.browser"]

PHONE = {"width": 390, "height": 844}
UNREACHABLE_SCIM = {
    "type": "scim",
    "base_url": "http://127.0.0.1:9/wiki/v2",  # nothing listens on the discard port
    "token": "wiki-secret-token",
    "matching_attribute": "userName",
    "max_attempts": 1,
}


def nav(page, name):
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name).click()


def in_cart(requester, application, beneficiary, mode="create", justification="needed"):
    act(cart.add_to_cart, requester, application, beneficiary, mode, justification)


def fulfilled_crm_account(account_id="CRM-7"):
    """bob holds a CRM account recorded as `account_id` by fred; returns that item's id."""
    item = submit(user_by_username("alice"), ("crm", "bob")).items[0]
    decide(user_by_username("mark"), item)
    decide(user_by_username("gina"), item)
    decide(user_by_username("fred"), item, account_id=account_id)
    return item.id


def approved(requester, application, beneficiary, mode):
    """An item past both approvals, waiting on its fulfillment task; returns the task id."""
    with unit_of_work():
        cart.add_to_cart(requester, application, beneficiary, mode, "needed")
        item = cart.submit_cart(requester).items[0]
    decide(user_by_username("mark"), item)
    decide(user_by_username("gina"), item)
    return open_task(item).id


def bob_holds_a_crm_account():
    """An update or a removal of bob's CRM account needs one on record (issue 11)."""
    db.session.add(
        Account(
            user_id=user_by_username("bob").id,
            application_id=application_by_key("crm").id,
            external_id="CRM-BOB",
        )
    )
    db.session.commit()


def test_an_unsaved_cart_edit_goes_in_with_the_submit(log_in, server):
    with server.engine():
        bob_holds_a_crm_account()
        in_cart(user_by_username("alice"), "crm", "bob", "update", "Reports")
    alice = log_in("alice")
    nav(alice, re.compile("^Cart"))
    line = alice.locator(".cart-line").filter(has_text="for Bob Baker")
    line.get_by_label("Remove existing account").check()
    line.get_by_label("Justification").fill("Bob leaves sales")

    # leaving the page with the edit unsaved asks first; staying keeps the edit
    alice.once("dialog", lambda dialog: dialog.dismiss())
    nav(alice, "Catalog")
    expect(alice).to_have_url(re.compile("/cart$"))
    expect(line.get_by_label("Remove existing account")).to_be_checked()

    alice.get_by_role("button", name="Submit request").click()  # no "Save changes" first
    expect(alice.get_by_role("heading", level=1)).to_contain_text("Request of")
    expect(alice.locator(".item-card")).to_contain_text("Remove existing account")
    alice.locator(".item-card h2 a").click()
    expect(alice.locator(".facts")).to_contain_text("Bob leaves sales")


def test_removing_a_line_keeps_the_other_lines_edits(log_in, server):
    with server.engine():
        bob_holds_a_crm_account()
        alice = user_by_username("alice")
        in_cart(alice, "crm", "bob", "update")
        in_cart(alice, "wiki", "bob")
    page = log_in("alice")
    page.goto(f"{server.url}/cart")
    crm = page.locator(".cart-line").filter(has_text="CRM")
    crm.get_by_label("Remove existing account").check()
    page.get_by_role("button", name="Remove Wiki for bob from the cart").click()
    expect(page.locator(".cart-line")).to_have_count(1)
    expect(page.locator(".cart-line").get_by_label("Remove existing account")).to_be_checked()


def test_an_open_request_is_named_and_linked_as_soon_as_the_line_is_added(log_in, server):
    with server.engine():
        open_item = submit(user_by_username("alice"), ("wiki", "bob")).items[0].id
    alice = log_in("alice")
    alice.goto(f"{server.url}/catalog/wiki")
    alice.get_by_label("Bob Baker bob").check()
    alice.get_by_label("Alice Archer (me) alice").uncheck()
    alice.get_by_label("Justification").fill("Team documentation")
    alice.get_by_role("button", name="Add to cart").click()

    expect(alice).to_have_url(re.compile("/cart$"))  # shown the cart, not the catalog
    expect(alice.locator(".flash-warning")).to_contain_text(
        "Bob Baker already has an open request for Wiki"
    )
    note = alice.locator(".cart-line").get_by_role("note")
    expect(note).to_contain_text("Bob Baker already has an open request for Wiki")

    alice.get_by_role("button", name="Submit request").click()  # refused, by names
    expect(alice.get_by_role("alert")).to_have_text(
        "Bob Baker already has an open request for Wiki"
    )
    note.get_by_role("link", name="see that request").click()
    expect(alice).to_have_url(f"{server.url}/items/{open_item}")
    expect(alice.locator(".page-head")).to_contain_text("Wiki for Bob Baker")


def test_cancelling_an_item_asks_first(log_in, server):
    with server.engine():
        item_id = submit(user_by_username("alice"), ("crm", "bob")).items[0].id
    alice = log_in("alice")
    alice.goto(f"{server.url}/items/{item_id}")
    questions = []

    def answer(dialog, accept):
        questions.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    alice.once("dialog", lambda dialog: answer(dialog, accept=False))
    alice.get_by_role("button", name="Cancel this item").click()
    expect(alice.locator(".page-head")).to_contain_text("Pending approval")
    assert questions == ["Cancel CRM for Bob Baker? Its open tasks close and it cannot be resumed."]

    alice.once("dialog", lambda dialog: answer(dialog, accept=True))
    alice.get_by_role("button", name="Cancel this item").click()
    expect(alice.locator(".page-head")).to_contain_text("Cancelled")


def test_rejecting_in_bulk_and_removing_an_account_ask_first(log_in, server):
    with server.engine():
        submit(user_by_username("alice"), ("wiki", "stan"))  # waits on mark
        fulfilled_crm_account()
        removal = approved(user_by_username("alice"), "crm", "bob", "remove")
    mark = log_in("mark")
    nav(mark, re.compile("^Inbox"))
    mark.get_by_label("Select all approval tasks").check()
    mark.once("dialog", lambda dialog: dialog.dismiss())
    mark.get_by_role("button", name="Reject selected").click()
    expect(mark.locator("tbody tr")).to_have_count(1)  # nothing was rejected

    fred = log_in("fred")
    fred.goto(f"{server.url}/tasks/{removal}")
    fred.once("dialog", lambda dialog: dialog.dismiss())
    fred.get_by_role("button", name="Complete: remove the account").click()
    expect(fred.locator(".page-head")).to_contain_text("Open")
    fred.once("dialog", lambda dialog: dialog.accept())
    fred.get_by_role("button", name="Complete: remove the account").click()
    expect(fred.get_by_role("status")).to_contain_text("done: approve")


def test_a_failed_auto_provision_task_shows_what_the_target_said_and_each_attempt(log_in, server):
    with server.engine() as app:
        application_by_key("wiki").connector_settings = UNREACHABLE_SCIM
        db.session.commit()
        item = submit(user_by_username("alice"), ("wiki", "bob")).items[0]
        decide(user_by_username("mark"), item)
        decide(user_by_username("gina"), item)
        Worker(app).run_until_idle(timeout=20)
        task_id = open_task(item).id
    fred = log_in("fred")
    fred.goto(f"{server.url}/tasks/{task_id}")
    failure = fred.locator(".provisioning-failure")
    expect(failure.locator(".error-text")).to_contain_text("connection failed")
    expect(failure.get_by_role("table")).to_contain_text("Attempts (1)")
    expect(failure.locator("tbody tr")).to_have_count(1)
    expect(failure.locator("tbody tr")).to_contain_text("failed")
    expect(fred.locator("main")).not_to_contain_text("wiki-secret-token")


def test_the_account_id_is_shown_to_whoever_needs_it(log_in, server):
    with server.engine():
        created = fulfilled_crm_account("CRM-7")
        update = approved(user_by_username("alice"), "crm", "bob", "update")
    alice = log_in("alice")
    alice.goto(f"{server.url}/items/{created}")
    expect(alice.locator(".account-id")).to_have_text("CRM-7")

    fred = log_in("fred")
    fred.goto(f"{server.url}/tasks/{update}")
    expect(fred.get_by_role("heading", name="What to update")).to_be_visible()
    expect(fred.locator(".account-ids")).to_have_text("CRM-7")
    expect(fred.get_by_label("Account id in CRM")).to_have_value("CRM-7")
    fred.get_by_role("button", name="Complete").click()
    expect(fred.get_by_role("status")).to_contain_text("done: approve")

    with server.engine():
        removal = approved(user_by_username("alice"), "crm", "bob", "remove")
    fred.goto(f"{server.url}/tasks/{removal}")
    expect(fred.get_by_role("heading", name="What to remove")).to_be_visible()
    expect(fred.locator(".account-ids")).to_have_text("CRM-7")


def test_test_connection_shows_a_readable_result(log_in, server, scim_server):  # noqa: F811
    with server.engine():
        wiki = application_by_key("wiki")
        wiki.connector_settings = {**UNREACHABLE_SCIM, "base_url": scim_server, "token": SCIM_TOKEN}
        db.session.commit()
    root = log_in("root")
    root.goto(f"{server.url}/admin/applications/wiki")
    root.get_by_role("button", name="Test connection").click()
    result = root.locator(".test-result")
    expect(result.get_by_role("heading", name="Connection works")).to_be_visible()
    expect(result).to_contain_text("Partial updates (PATCH)")
    expect(result).to_contain_text(re.compile(r"Authentication schemes\s*oauthbearertoken"))
    for raw in ("True", "False", "None", "['", "auth_schemes"):
        expect(result).not_to_contain_text(raw)


def test_the_provisioning_log_error_column_reads_as_lines_at_laptop_width(log_in, server):
    error = "SCIM POST /Users: 409 uniqueness: userName bob is already taken by another user " * 3
    with server.engine():
        from engine.models import ProvisioningLog

        db.session.add(
            ProvisioningLog(
                application_id=application_by_key("wiki").id,
                operation="create",
                outcome="failed",
                http_status=409,
                error=error.strip(),
                user_id=user_by_username("bob").id,
            )
        )
        db.session.commit()
    root = log_in("root")
    root.goto(f"{server.url}/admin/provisioning")
    cell = root.locator("td.error-cell").first
    box = cell.bounding_box()
    assert box["width"] >= 300, f"the error column is {box['width']}px wide"
    assert box["height"] < 200, f"the error runs {box['height']}px down"
    assert root.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_fulfillers_inbox_has_no_empty_checkboxes_and_counts_only_what_they_may_take(
    log_in, server
):
    with server.engine():
        for beneficiary in ("bob", "stan"):
            item = submit(user_by_username("alice"), ("crm", beneficiary)).items[0]
            decide(user_by_username("mark"), item)
            decide(user_by_username("gina"), item)
        act(actions.claim_task, user_by_username("fiona"), open_task(item).id)
    fred = log_in("fred")
    nav(fred, re.compile("^Inbox"))
    expect(fred.locator("tbody tr")).to_have_count(2)
    expect(fred.locator("th.check, td.check")).to_have_count(0)
    expect(fred.get_by_role("button", name="Approve selected")).to_have_count(0)
    badge = fred.get_by_role("navigation", name="Main").locator(".count")
    expect(badge).to_have_text("1")  # stan's task is fiona's now

    phone = log_in("fred", viewport=PHONE)
    phone.goto(f"{server.url}/inbox")
    for row in phone.locator("tbody tr").all():
        overflow = row.evaluate(
            "r => [...r.querySelectorAll('*')].some(e => e.getBoundingClientRect().right >"
            " r.getBoundingClientRect().right + 1)"
        )
        assert not overflow, row.inner_text()
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_every_page_has_a_favicon_and_a_link_to_the_api_docs(log_in, server):
    alice = log_in("alice")
    icon = alice.request.get(f"{server.url}/favicon.ico")
    assert icon.ok and icon.headers["content-type"].startswith("image/svg+xml")
    href = alice.locator('link[rel="icon"]').get_attribute("href")
    assert alice.request.get(f"{server.url}{href}").ok
    alice.get_by_role("contentinfo").get_by_role("link", name="API documentation").click()
    expect(alice).to_have_url(f"{server.url}/api/docs")
