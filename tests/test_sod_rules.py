"""Separation of duties between applications: refused in the cart and at approval, naming
the rule; what the person holds and what they have asked for both count."""

import pytest
from sqlalchemy import select

from engine.access import grants, sod
from engine.db import db
from engine.directory.importer import import_directory
from engine.errors import Conflict, Invalid
from engine.models import RequestItem, SodRule, User
from engine.requests import cart
from tests.api_client import api  # noqa: F401
from tests.flow import act, decide, open_task, submit

RULE = {"name": "CRM vs Wiki", "applications": ["crm", "wiki"]}


def with_rule():
    act(import_directory, {"sod_rules": [RULE]})


def test_a_person_who_holds_one_cannot_ask_for_the_other(people):
    with_rule()
    act(grants.assign_users, people["root"], "crm", ["bob"], reason="sales")
    decide(people["fred"], _item_for("bob"), account_id="CRM-1")  # bob holds CRM now

    with pytest.raises(Invalid, match=r"separation of duties \(CRM vs Wiki\).*bob.*CRM") as no:
        act(cart.add_to_cart, people["alice"], "wiki", "bob", justification="x")
    assert no.value.extra["field"] == "application"
    act(cart.add_to_cart, people["alice"], "wiki", "alice", justification="x")  # alice may


def test_two_open_requests_meet_the_rule_at_approval(people):
    first = submit(people["alice"], ("crm", "alice")).items[0]
    second = submit(people["alice"], ("wiki", "alice")).items[0]
    with_rule()  # the rule arrives after both were asked for
    with pytest.raises(Conflict, match="CRM vs Wiki"):
        decide(people["mark"], first)
    decide(people["mark"], second, "reject", comment="one of the two")
    decide(people["mark"], first)  # the other one went: no conflict any more
    assert open_task(first).lane == "ApproverGroup"


def test_rules_are_checked_when_set(people):
    with pytest.raises(Invalid, match="two different applications"):
        act(sod.add_rule, people["root"], "Same", ["crm", "crm"])
    with pytest.raises(Invalid, match=r"sod_rules\[0\]"):
        act(import_directory, {"sod_rules": [{"name": "X", "applications": ["crm", "nope"]}]})
    with_rule()
    with pytest.raises(Conflict, match="already covers"):
        act(sod.add_rule, people["root"], "Again", ["wiki", "crm"])
    assert db.session.scalar(select(SodRule.name)) == "CRM vs Wiki"


def test_sod_rules_over_the_admin_api(api, people):  # noqa: F811
    root = api["root"]
    made = root.post("/api/v1/admin/sod-rules", RULE)
    assert made.status_code == 201 and made.get_json()["applications"] == ["crm", "wiki"]
    assert root.get("/api/v1/admin/sod-rules").get_json()["items"][0]["name"] == "CRM vs Wiki"
    assert api["alice"].get("/api/v1/admin/sod-rules").status_code == 403
    assert api["alice"].post("/api/v1/admin/sod-rules", RULE).status_code == 403
    assert root.post("/api/v1/admin/sod-rules", {"name": "x"}).status_code == 422
    added = api["alice"].post("/api/v1/cart/items", {"application": "wiki", "beneficiary": "alice"})
    assert added.status_code == 201  # alice holds neither
    assert root.delete("/api/v1/admin/sod-rules/CRM vs Wiki").status_code == 204
    assert root.delete("/api/v1/admin/sod-rules/CRM vs Wiki").status_code == 404


def _item_for(username):
    user = db.session.scalar(select(User).where(User.username == username))
    return db.session.scalars(
        select(RequestItem).where(RequestItem.beneficiary_id == user.id)
    ).first()
