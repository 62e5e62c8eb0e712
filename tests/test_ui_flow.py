"""Stories in a real browser: cart → manager → approver group → fulfiller, claims, CSRF."""

import re

from playwright.sync_api import expect

from engine.db import db
from engine.directory.lookup import application_by_key, user_by_username
from engine.models import Account
from engine.requests import cart
from engine.tasks import actions
from tests.flow import act, decide, open_task, submit

pytest_plugins = ["tests.browser"]


def nav(page, name):
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name).click()


def test_cart_to_fulfillment_with_four_logins(log_in, server):
    # bob holds a CRM account, and alice already asked to update it; now she asks for herself.
    with server.engine():
        db.session.add(
            Account(
                user_id=user_by_username("bob").id,
                application_id=application_by_key("crm").id,
                external_id="CRM-BOB",
            )
        )
        db.session.commit()
        act(cart.add_to_cart, user_by_username("alice"), "crm", "bob", "update", "Reports")
    alice = log_in("alice")
    nav(alice, "Catalog")
    alice.get_by_label("Search applications").fill("customer")
    alice.get_by_role("button", name="Search").click()
    expect(alice.get_by_role("link", name="Request access to Wiki")).to_have_count(0)
    alice.get_by_label("Search applications").fill("crm")
    alice.get_by_role("button", name="Search").click()
    alice.get_by_role("link", name="Request access to CRM").click()
    expect(alice.get_by_label("Alice Archer (me) alice")).to_be_checked()
    expect(alice.get_by_label("Create new account")).to_be_checked()  # she holds none
    alice.get_by_label("Justification").fill("Quarterly sales reporting")
    alice.get_by_role("button", name="Add to cart").click()
    expect(alice.get_by_role("status")).to_contain_text("CRM for Alice Archer added")

    nav(alice, re.compile("^Cart"))
    lines = alice.locator(".cart-line")
    expect(lines).to_have_count(2)
    bob_line = lines.filter(has_text="for Bob Baker")
    bob_line.get_by_label("Remove existing account").check()
    alice.get_by_role("button", name="Save changes").click()
    expect(
        alice.locator(".cart-line")
        .filter(has_text="for Bob Baker")
        .get_by_label("Remove existing account")
    ).to_be_checked()
    alice.get_by_role("button", name="Submit request").click()
    expect(alice.get_by_role("heading", level=1)).to_contain_text("Request of")
    expect(alice.locator(".item-card")).to_have_count(2)
    expect(alice.locator(".item-card").first).to_contain_text("Pending approval")
    expect(alice.locator(".item-card").first).to_contain_text("submitted the request")

    # mark, the manager of both, approves the two tasks at once from "Assigned to me".
    mark = log_in("mark")
    nav(mark, re.compile("^Inbox"))
    mark.get_by_role("link", name="Assigned to me").click()
    expect(mark.locator("tbody tr")).to_have_count(2)
    mark.get_by_label("Select all approval tasks").check()
    mark.get_by_label("Comment").fill("Fine by me")
    mark.get_by_role("button", name="Approve selected").click()
    expect(mark.get_by_role("status")).to_contain_text("2 tasks approved")
    expect(mark.get_by_text("No task here.")).to_be_visible()

    # gina, in the approver group, approves alice's item and rejects bob's, one by one.
    gina = log_in("gina")
    nav(gina, re.compile("^Inbox"))
    gina.get_by_role("link", name="My groups").click()
    expect(gina.locator("tbody tr")).to_have_count(2)
    for_alice = gina.locator('td[data-label="For"]', has_text="Alice Archer")
    gina.locator("tbody tr").filter(has=for_alice).get_by_role("link").click()
    expect(gina.locator(".facts")).to_contain_text("Quarterly sales reporting")
    gina.get_by_label("Comment").fill("Approved for Q3")
    gina.get_by_role("button", name="Approve").click()
    for_bob = gina.locator('td[data-label="For"]', has_text="Bob Baker")
    gina.locator("tbody tr").filter(has=for_bob).get_by_role("link").click()
    gina.get_by_label("Comment").fill("Bob already has a CRM seat")
    gina.once("dialog", lambda dialog: dialog.accept())  # "Reject CRM for Bob Baker?"
    gina.get_by_role("button", name="Reject").click()
    expect(gina.get_by_text("Nothing waits on you.")).to_be_visible()

    # fred, a fulfiller, sees exactly what to create, claims the task and records the account.
    fred = log_in("fred")
    nav(fred, re.compile("^Inbox"))
    fred.get_by_role("link", name="Fulfil the request").click()
    facts = fred.locator(".facts")
    for text in ("CRM", "Create new account", "alice", "alice@example.com", "Archer"):
        expect(facts).to_contain_text(text)
    fred.get_by_role("button", name="Claim").click()
    expect(fred.locator(".claim-state")).to_have_text("Claimed by you")
    fred.get_by_role("button", name="Complete").click()  # without the account id: refused
    expect(fred.get_by_role("alert")).to_contain_text("Enter the id of the account you created")
    expect(fred.get_by_role("alert")).not_to_contain_text("account_id")
    expect(fred.get_by_label("Account id in CRM")).to_have_attribute("aria-invalid", "true")
    fred.get_by_label("Account id in CRM").fill("CRM-00042")
    fred.get_by_label("Comment").fill("Account created")
    fred.get_by_role("button", name="Complete").click()
    expect(fred.get_by_role("status")).to_contain_text("done: approve")

    # alice follows both items: who did what, when, with what comment.
    nav(alice, "My requests")
    alice.get_by_role("link", name="CRM for Alice Archer").click()
    expect(alice.locator(".page-head")).to_contain_text("Fulfilled")
    timeline = alice.locator(".timeline")
    for text in (
        "Mark Manager approved",
        "Fine by me",
        "gina approved",
        "Approved for Q3",
        "fred claimed the task",
        "fred created the account",
        "Account created",
    ):
        expect(timeline).to_contain_text(text)
    alice.go_back()
    alice.get_by_role("link", name="CRM for Bob Baker").click()
    expect(alice.locator(".page-head")).to_contain_text("Rejected")
    expect(alice.locator(".timeline")).to_contain_text("gina rejected")
    expect(alice.locator(".timeline")).to_contain_text("Bob already has a CRM seat")


def test_second_fulfiller_sees_a_claimed_task_as_taken(log_in, server):
    with server.engine():
        alice, mark, gina = (user_by_username(n) for n in ("alice", "mark", "gina"))
        item = submit(alice, ("crm", "bob")).items[0]
        decide(mark, item)
        decide(gina, item)
        task_id = open_task(item).id

    fred = log_in("fred")
    fred.goto(f"{server.url}/tasks/{task_id}")
    fred.get_by_role("button", name="Claim").click()
    expect(fred.locator(".claim-state")).to_have_text("Claimed by you")

    fiona = log_in("fiona")
    nav(fiona, re.compile("^Inbox"))
    expect(fiona.locator("tbody tr")).to_contain_text("Claimed by fred")
    fiona.get_by_role("link", name="Fulfil the request").click()
    expect(fiona.locator(".claim-state")).to_have_text("Claimed by fred")
    expect(fiona.get_by_role("button", name="Claim")).to_have_count(0)
    expect(fiona.get_by_role("button", name="Complete")).to_have_count(0)

    # once fred releases it, fiona may take it
    fred.get_by_role("button", name="Release").click()
    fiona.reload()
    fiona.get_by_role("button", name="Claim").click()
    expect(fiona.locator(".claim-state")).to_have_text("Claimed by you")
    with server.engine():
        assert actions.get_task(user_by_username("fiona"), task_id).claimed_by_id == (
            user_by_username("fiona").id
        )


def test_form_posts_without_a_csrf_token_are_refused(log_in, server):
    alice = log_in("alice")
    alice.goto(f"{server.url}/catalog/crm")
    form = {"beneficiary": "alice", "account_mode": "create", "justification": "x"}
    refused = alice.request.post(f"{server.url}/catalog/crm", form=form, max_redirects=0)
    assert refused.status == 400
    assert "not sent by this site" in refused.text()
    forged = alice.request.post(
        f"{server.url}/catalog/crm", form={**form, "csrf_token": "forged"}, max_redirects=0
    )
    assert forged.status == 400
    token = alice.locator('meta[name="csrf-token"]').get_attribute("content")
    accepted = alice.request.post(
        f"{server.url}/catalog/crm", form={**form, "csrf_token": token}, max_redirects=0
    )
    assert accepted.status == 303
    alice.goto(f"{server.url}/cart")
    expect(alice.locator(".cart-line")).to_have_count(1)
    logout = alice.request.post(f"{server.url}/logout", max_redirects=0)
    assert logout.status == 400
