"""Stories of access removal: a requester asks that someone's existing account be ended."""

import re

import pytest
from flask import g
from sqlalchemy import select

from api.worker import Worker
from engine.db import db
from engine.directory.lookup import application_by_key
from engine.errors import Invalid
from engine.models import Account, AuditEvent, ProvisioningLog
from engine.requests import cart
from tests import scim_server as server_plugin
from tests.flow import decide, open_task
from tests.provisioning_support import approved_wiki_item, connect_wiki, scim_users

scim_server_process = server_plugin.scim_server_process
scim_server = server_plugin.scim_server


def ask_removal(requester, application, beneficiary):
    cart.add_to_cart(requester, application, beneficiary, "remove", "left the team")
    return cart.submit_cart(requester).items[0]


def test_disconnected_removal_approved_and_fulfilled_ends_the_account(people):
    bob = people["bob"]
    account = Account(user_id=bob.id, application_id=application_by_key("crm").id, external_id="b7")
    db.session.add(account)
    db.session.commit()

    item = ask_removal(people["alice"], "crm", "bob")
    decide(people["mark"], item)
    decide(people["gina"], item)
    fulfil = open_task(item)
    assert (fulfil.title, fulfil.kind) == ("Fulfil the request", "fulfillment")
    decide(people["fred"], item)  # no account id: there is nothing new to record

    assert item.status == "fulfilled" and item.account_id == account.id
    assert account.status == "removed" and account.ended_at is not None
    events = db.session.scalars(
        select(AuditEvent.event).where(AuditEvent.item_id == item.id).order_by(AuditEvent.id)
    ).all()
    assert "account_removed" in events and "fulfilled" not in events


def test_removal_without_an_account_is_refused_with_the_field_named(people):
    with pytest.raises(Invalid) as refused:
        cart.add_to_cart(people["alice"], "crm", "bob", "remove")

    assert refused.value.extra["field"] == "account_mode"
    assert "bob has no account in CRM to remove" in refused.value.detail
    assert cart.list_cart(people["alice"]) == []


def test_connected_removal_disables_the_user_in_the_target(app, people, scim_server):
    connect_wiki(scim_server)
    created = approved_wiki_item(people, beneficiary="bob")
    db.session.rollback()
    Worker(app).run_until_idle(timeout=30)
    db.session.rollback()
    db.session.expire_all()
    assert created.status == "fulfilled"
    [user] = scim_users(scim_server)
    assert user["active"] is True

    item = ask_removal(people["alice"], "wiki", "bob")
    decide(people["mark"], item)
    decide(people["gina"], item)
    assert item.status == "provisioning"
    db.session.rollback()
    Worker(app).run_until_idle(timeout=30)
    db.session.rollback()
    db.session.expire_all()

    assert item.status == "fulfilled"
    [user] = scim_users(scim_server)
    assert user["active"] is False
    account = db.session.get(Account, created.account_id)
    assert account.status == "removed" and account.ended_at is not None
    entry = db.session.scalars(
        select(ProvisioningLog).where(ProvisioningLog.item_id == item.id)
    ).one()
    assert (entry.operation, entry.outcome, entry.external_id) == ("remove", "removed", user["id"])


def test_request_form_offers_removal_and_refuses_it_for_someone_without_an_account(app, people):
    client = app.test_client()
    page = client.get("/login")
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
    login = {"username": "alice", "password": "alice-pw", "csrf_token": token}
    assert client.post("/login", data=login).status_code == 302
    g.pop("csrf_token", None)  # the test's app context outlives requests: drop the old token

    page = client.get("/catalog/crm")
    assert "Remove existing account" in page.text
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
    form = {"beneficiary": "bob", "account_mode": "remove", "justification": "x"}
    answer = client.post("/catalog/crm", data={**form, "csrf_token": token})

    assert answer.status_code == 422
    assert "bob has no account in CRM to remove" in answer.text
    assert cart.list_cart(people["alice"]) == []
