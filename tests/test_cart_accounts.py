"""Issue 11, the cart's account rules: update by default, no second account where the app
allows one, which account when there are several, roles, and the open request named."""

import re

import pytest
from sqlalchemy import select

from engine.db import db
from engine.directory.lookup import application_by_key, user_by_username
from engine.errors import Invalid
from engine.models import Account, ProvisioningJob, RequestItem
from engine.provisioning import calls
from engine.requests import cart, catalog, items
from tests.api_client import api  # noqa: F401
from tests.flow import act, decide
from tests.test_ui_pages import log_in


def give_account(username, application, external_id):
    account = Account(
        user_id=user_by_username(username).id,
        application_id=application_by_key(application).id,
        external_id=external_id,
    )
    db.session.add(account)
    db.session.commit()
    return account


def allow_several(application):
    application_by_key(application).allow_multiple_accounts = True
    db.session.commit()


def add(caller, **line):
    return caller.post("/api/v1/cart/items", {"justification": "work", **line})


# ---- create is refused where the person holds an account and the app allows one only


@pytest.mark.parametrize("application, name", [("crm", "CRM"), ("wiki", "Wiki")])
def test_a_second_account_is_refused_where_the_app_allows_one(api, application, name):  # noqa: F811
    give_account("bob", application, "bob-1")
    answer = add(api["alice"], application=application, beneficiary="bob")
    assert answer.status_code == 422
    problem = answer.get_json()
    assert problem["field"] == "account_mode"
    assert problem["detail"] == f"bob already has an account in {name}; ask for an update instead"
    assert api["alice"].get("/api/v1/cart").get_json() == {"items": []}
    update = add(api["alice"], application=application, beneficiary="bob", account_mode="update")
    assert update.status_code == 201
    assert (
        add(
            api["alice"], application=application, beneficiary="alice", account_mode="create"
        ).status_code
        == 201
    )  # alice holds none


def test_an_app_allowing_several_accounts_takes_a_second_one(api):  # noqa: F811
    give_account("bob", "wiki", "bob-1")
    allow_several("wiki")
    assert add(api["alice"], application="wiki", beneficiary="bob").status_code == 201


def test_the_rule_is_checked_again_at_submit(api):  # noqa: F811
    alice = api["alice"]
    assert add(alice, application="crm", beneficiary="bob").status_code == 201
    give_account("bob", "crm", "bob-made-meanwhile")  # recorded after the line was added
    answer = alice.post("/api/v1/cart/submit")
    assert answer.status_code == 422
    assert "bob already has an account in CRM" in answer.get_json()["detail"]
    assert answer.get_json()["line"] == alice.get("/api/v1/cart").get_json()["items"][0]["id"]


def test_an_account_ended_since_the_line_was_added_refuses_the_update(api):  # noqa: F811
    account = give_account("bob", "crm", "bob-1")
    alice = api["alice"]
    assert (
        add(alice, application="crm", beneficiary="bob", account_mode="update").status_code == 201
    )
    account.status = "removed"
    db.session.commit()
    answer = alice.post("/api/v1/cart/submit")
    assert answer.status_code == 422 and answer.get_json()["field"] == "account_mode"
    assert "no account in CRM to update" in answer.get_json()["detail"]


# ---- which account, when there are several


def test_several_accounts_need_account_id_for_an_update_or_a_removal(api):  # noqa: F811
    allow_several("crm")
    give_account("bob", "crm", "bob-1")
    second = give_account("bob", "crm", "bob-2")
    give_account("alice", "crm", "alice-1")
    alice = api["alice"]
    for mode in ("update", "remove"):
        missing = add(alice, application="crm", beneficiary="bob", account_mode=mode)
        assert missing.status_code == 422 and missing.get_json()["field"] == "account_id"
        assert "bob holds 2 accounts in CRM" in missing.get_json()["detail"]
        assert "bob-1, bob-2" in missing.get_json()["detail"]
    for wrong in ("alice-1", "nope", "  "):
        answer = add(
            alice, application="crm", beneficiary="bob", account_mode="update", account_id=wrong
        )
        assert answer.status_code == 422, wrong
    by_external_id = add(
        alice, application="crm", beneficiary="bob", account_mode="update", account_id="bob-2"
    )
    assert by_external_id.status_code == 201
    assert by_external_id.get_json()["account_id"] == "bob-2"
    alice.delete(f"/api/v1/cart/items/{by_external_id.get_json()['id']}")
    by_id = add(
        alice, application="crm", beneficiary="bob", account_mode="update", account_id=second.id
    )
    assert by_id.status_code == 201 and by_id.get_json()["account_id"] == "bob-2"

    submitted = alice.post("/api/v1/cart/submit")
    assert submitted.status_code == 201
    item = submitted.get_json()["items"][0]
    assert item["account_id"] == "bob-2"
    assert db.session.get(RequestItem, item["id"]).account_id == second.id


def test_create_with_an_account_id_is_refused(api):  # noqa: F811
    answer = add(api["alice"], application="crm", beneficiary="bob", account_id="bob-1")
    assert answer.status_code == 422 and answer.get_json()["field"] == "account_id"


def test_a_removal_of_one_of_several_accounts_ends_only_that_one(people):
    allow_several("crm")
    first = give_account("bob", "crm", "bob-1")
    second = give_account("bob", "crm", "bob-2")
    item = act(
        lambda: (
            cart.add_to_cart(people["alice"], "crm", "bob", "remove", "left", account_id="bob-1"),
            cart.submit_cart(people["alice"]),
        )[1].items[0]
    )
    decide(people["mark"], item)
    decide(people["gina"], item)
    decide(people["fred"], item)
    db.session.refresh(first)
    db.session.refresh(second)
    assert (first.status, second.status) == ("removed", "active")
    assert item.account_id == first.id


def test_a_connected_job_acts_on_the_chosen_account(people):
    allow_several("wiki")
    give_account("bob", "wiki", "wiki-1")
    give_account("bob", "wiki", "wiki-2")
    jobs = {}
    for mode in ("remove", "update"):
        item = act(
            lambda mode=mode: (
                cart.add_to_cart(people["alice"], "wiki", "bob", mode, "x", account_id="wiki-2"),
                cart.submit_cart(people["alice"]),
            )[1].items[0]
        )
        decide(people["mark"], item)
        decide(people["gina"], item)
        job = db.session.scalar(select(ProvisioningJob).where(ProvisioningJob.item_id == item.id))
        jobs[mode] = calls._attempt(job, "worker")
        db.session.rollback()
        act(items.cancel_item, people["alice"], item.id, "next")  # frees bob's wiki slot
    assert jobs["remove"].on_record == "wiki-2"
    assert jobs["update"].on_record == "wiki-2"


def test_the_ui_cart_waits_for_the_account_choice_until_the_submit(people):
    allow_several("crm")
    give_account("bob", "crm", "bob-1")
    chosen = give_account("bob", "crm", "bob-2")
    alice = people["alice"]
    [line] = act(catalog.add_for_beneficiaries, alice, "crm", ["bob"], "remove", "left")
    assert line.account_id is None
    assert catalog.cart_line_accounts([line])[line.id][1].id == chosen.id
    with pytest.raises(Invalid) as refused:
        act(cart.submit_cart, alice)
    assert refused.value.extra["field"] == "account_id"
    assert refused.value.extra["line"] == line.id
    edit = catalog.LineEdit("remove", "left", account_id=chosen.id)
    act(catalog.update_cart, alice, {line.id: edit})
    item = act(cart.submit_cart, alice).items[0]
    assert item.account_id == chosen.id


def test_a_cart_edit_follows_the_same_rules(people):
    give_account("bob", "crm", "bob-1")
    alice = people["alice"]
    [line] = act(catalog.add_for_beneficiaries, alice, "crm", ["bob"], "update", "x")
    with pytest.raises(Invalid, match="bob already has an account in CRM"):
        act(catalog.update_cart, alice, {line.id: catalog.LineEdit("create", "x")})
    application_by_key("crm").roles = [{"key": "viewer", "name": "Viewer"}]
    db.session.commit()
    with pytest.raises(Invalid, match="needs a role"):
        act(catalog.update_cart, alice, {line.id: catalog.LineEdit("update", "x")})
    act(catalog.update_cart, alice, {line.id: catalog.LineEdit("update", "x", role="viewer")})
    assert cart.list_cart(alice)[0].role == "viewer"


# ---- the pages: update by default, the refusal, roles


def test_the_request_form_proposes_an_update_to_someone_who_holds_an_account(app, people):
    client = app.test_client()
    token = log_in(client, "alice", "alice-pw")
    page = client.get("/catalog/crm").text
    assert re.search(r'value="create" id="mode-create" checked', page)
    give_account("alice", "crm", "alice-1")
    page = client.get("/catalog/crm").text
    assert re.search(r'value="update" id="mode-update" checked', page)
    assert "You already have an account in CRM" in page

    # for a colleague ticked in the form, the server decides
    give_account("bob", "crm", "bob-1")
    form = {"beneficiary": "bob", "account_mode": "create", "justification": "x"}
    refused = client.post("/catalog/crm", data={**form, "csrf_token": token})
    assert refused.status_code == 422
    assert "bob already has an account in CRM; ask for an update instead" in refused.text
    assert cart.list_cart(people["alice"]) == []


def test_the_request_form_and_the_cart_offer_the_roles(app, people):
    application_by_key("crm").roles = [
        {"key": "viewer", "name": "Viewer", "description": "reads"},
        {"key": "editor", "name": "Editor"},
    ]
    db.session.commit()
    client = app.test_client()
    token = log_in(client, "alice", "alice-pw")
    page = client.get("/catalog/crm").text
    assert '<select id="role" name="role"' in page and ">Editor</option>" in page
    form = {"beneficiary": "alice", "account_mode": "create", "justification": "x"}
    missing = client.post("/catalog/crm", data={**form, "csrf_token": token})
    assert missing.status_code == 422 and "CRM needs a role" in missing.text
    added = client.post("/catalog/crm", data={**form, "role": "editor", "csrf_token": token})
    assert added.status_code == 303
    [line] = cart.list_cart(people["alice"])
    assert line.role == "editor"
    page = client.get("/cart").text
    assert f'name="role-{line.id}"' in page
    assert re.search(r'value="editor" selected>Editor', page)


# ---- the open request that blocks a cart


def test_the_409_names_the_app_by_name_and_the_open_item(api):  # noqa: F811
    first = api["alice"].submit(("wiki", "bob")).get_json()["items"][0]
    again = api["stan"].submit(("wiki", "bob"))
    assert again.status_code == 409
    assert again.get_json()["item"] == first["id"]
    assert again.get_json()["detail"] == "Bob Baker already has an open request for Wiki"
