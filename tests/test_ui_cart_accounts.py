"""Issue 11 in the browser: the role select of the request form and of the cart, and the
account select of a cart line whose person holds several accounts."""

import re

from playwright.sync_api import expect

from engine.db import db
from engine.directory.lookup import application_by_key, user_by_username
from engine.models import Account, RequestItem
from tests.flow import decide, open_task

pytest_plugins = ["tests.browser"]


def give_accounts(username, application, *external_ids):
    for external_id in external_ids:
        db.session.add(
            Account(
                user_id=user_by_username(username).id,
                application_id=application_by_key(application).id,
                external_id=external_id,
            )
        )
    db.session.commit()


def test_a_role_and_one_of_several_accounts_are_chosen_in_the_cart(log_in, server):
    with server.engine():
        crm = application_by_key("crm")
        crm.roles = [
            {"key": "viewer", "name": "Viewer", "description": "reads the pipeline"},
            {"key": "editor", "name": "Editor", "description": "changes deals"},
        ]
        crm.allow_multiple_accounts = True
        db.session.commit()
        give_accounts("bob", "crm", "CRM-1", "CRM-2")
    alice = log_in("alice")
    alice.goto(f"{server.url}/catalog/crm")
    expect(alice.get_by_label("Create new account")).to_be_checked()  # alice holds none
    expect(alice.get_by_text("changes deals")).to_be_visible()
    alice.get_by_label("Bob Baker bob").check()
    alice.get_by_label("Alice Archer (me) alice").uncheck()
    alice.get_by_label("Update existing account").check()
    alice.get_by_label("Justification").fill("Bob takes over the deals")
    alice.get_by_role("button", name="Add to cart").click()
    expect(alice.get_by_role("alert")).to_contain_text("CRM needs a role")  # none chosen
    alice.get_by_label(re.compile("^Role in CRM")).select_option(label="Viewer")
    alice.get_by_role("button", name="Add to cart").click()

    # bob holds two CRM accounts: the cart is shown, to say which one
    expect(alice).to_have_url(re.compile("/cart$"))
    expect(alice.locator(".flash-warning")).to_contain_text("Bob Baker holds several accounts")
    line = alice.locator(".cart-line").filter(has_text="for Bob Baker")
    expect(line.get_by_label(re.compile("^Role in CRM"))).to_have_value("viewer")
    line.get_by_label(re.compile("^Role in CRM")).select_option(label="Editor")
    account = line.get_by_label("Which account to update or remove")
    expect(account.locator("option")).to_have_text(
        ["Choose the account", re.compile("^CRM-1"), re.compile("^CRM-2")]
    )
    alice.get_by_role("button", name="Submit request").click()  # refused: which account?
    expect(alice.get_by_role("alert")).to_contain_text(
        "bob holds 2 accounts in CRM: say which one to update (CRM-1, CRM-2)"
    )
    expect(line.get_by_label(re.compile("^Role in CRM"))).to_have_value("editor")  # kept
    account.select_option(index=2)  # CRM-2
    alice.get_by_role("button", name="Submit request").click()

    expect(alice.get_by_role("heading", level=1)).to_contain_text("Request of")
    expect(alice.locator(".item-card")).to_contain_text("role Editor")
    alice.locator(".item-card h2 a").click()
    expect(alice.locator(".facts")).to_contain_text("Editor")
    expect(alice.locator(".account-id")).to_have_text("CRM-2")
    item_id = alice.url.rsplit("/", 1)[1]

    # the fulfiller sees the role and the one account to update
    with server.engine():
        item = db.session.get(RequestItem, item_id)
        decide(user_by_username("mark"), item)
        decide(user_by_username("gina"), item)
        task_id = open_task(item).id
    fred = log_in("fred")
    fred.goto(f"{server.url}/tasks/{task_id}")
    expect(fred.locator(".item-role")).to_contain_text("Editor")
    expect(fred.locator(".account-ids")).to_have_text("CRM-2")
    expect(fred.get_by_label("Account id in CRM")).to_have_value("CRM-2")


def test_someone_who_holds_an_account_is_offered_an_update(log_in, server):
    with server.engine():
        give_accounts("alice", "wiki", "alice-wiki")
        give_accounts("bob", "crm", "bob-crm")
    alice = log_in("alice")
    alice.goto(f"{server.url}/catalog/wiki")
    expect(alice.get_by_label("Update existing account")).to_be_checked()
    expect(alice.get_by_text("You already have an account in Wiki")).to_be_visible()

    alice.goto(f"{server.url}/catalog/crm")  # alice holds none in CRM; bob does
    expect(alice.get_by_label("Create new account")).to_be_checked()
    alice.get_by_label("Bob Baker bob").check()
    alice.get_by_label("Justification").fill("Sales")
    alice.get_by_role("button", name="Add to cart").click()
    expect(alice.get_by_role("alert")).to_have_text(
        "bob already has an account in CRM; ask for an update instead"
    )
    expect(alice.get_by_label("Bob Baker bob")).to_be_checked()  # the form is kept
