"""Filling the cart and submitting it over the API, safely under retries and duplicates."""

from sqlalchemy import func, select

from engine.db import db
from engine.directory.lookup import application_by_key, user_by_username
from engine.models import AccessRequest, Account, RequestItem
from tests.api_client import api  # noqa: F401


def test_alice_fills_her_cart_for_herself_and_bob_and_submits(api):  # noqa: F811
    wiki, bob = application_by_key("wiki"), user_by_username("bob")
    db.session.add(Account(user_id=bob.id, application_id=wiki.id, external_id="bob-wiki"))
    db.session.commit()  # an update acts on an account bob holds
    alice = api["alice"]
    mine = alice.post("/api/v1/cart/items", {"application": "crm", "justification": "sales"})
    assert mine.status_code == 201
    assert mine.get_json()["beneficiary"] == "alice" and mine.get_json()["account_mode"] == "create"
    bobs = alice.post(
        "/api/v1/cart/items",
        {"application": "wiki", "beneficiary": "bob", "account_mode": "update"},
    )
    assert bobs.status_code == 201
    cart = alice.get("/api/v1/cart").get_json()["items"]
    assert [(c["application"], c["beneficiary"]) for c in cart] == [
        ("crm", "alice"),
        ("wiki", "bob"),
    ]

    answer = alice.post("/api/v1/cart/submit")
    assert answer.status_code == 201
    body = answer.get_json()
    assert [(i["application"], i["beneficiary"], i["status"]) for i in body["items"]] == [
        ("crm", "alice", "pending_approval"),
        ("wiki", "bob", "pending_approval"),
    ]
    assert alice.get("/api/v1/cart").get_json() == {"items": []}
    item = alice.get(f"/api/v1/items/{body['items'][1]['id']}").get_json()
    assert item["request"] == body["id"] and item["account_mode"] == "update"
    assert [h["event"] for h in item["history"]] == ["submitted", "task_created"]
    assert item["history"][0]["actor"] == "alice"


def test_a_retried_submit_returns_the_first_answer_and_creates_nothing(api):  # noqa: F811
    alice = api["alice"]
    first = alice.submit(("crm", "bob"), key="submit-7f3a")
    again = alice.post("/api/v1/cart/submit", headers={"Idempotency-Key": "submit-7f3a"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json()["id"] == first.get_json()["id"]
    assert [i["id"] for i in again.get_json()["items"]] == [
        i["id"] for i in first.get_json()["items"]
    ]
    assert db.session.scalar(select(func.count()).select_from(AccessRequest)) == 1
    assert db.session.scalar(select(func.count()).select_from(RequestItem)) == 1


def test_the_same_key_from_another_person_is_a_different_submit(api):  # noqa: F811
    assert api["alice"].submit(("crm", "bob"), key="k1").status_code == 201
    assert api["stan"].submit(("wiki", "stan"), key="k1").status_code == 201


def test_a_second_open_request_for_the_same_person_and_app_points_at_the_open_item(api):  # noqa: F811
    first = api["alice"].submit(("crm", "bob")).get_json()["items"][0]
    again = api["stan"].submit(("crm", "bob"))
    assert again.status_code == 409
    assert again.mimetype == "application/problem+json"
    assert again.get_json()["item"] == first["id"]
    assert "Bob Baker already has an open request for CRM" in again.get_json()["detail"]


def test_an_empty_cart_cannot_be_submitted(api):  # noqa: F811
    answer = api["alice"].post("/api/v1/cart/submit")
    assert answer.status_code == 422
    assert answer.get_json()["detail"] == "the cart is empty"


def test_unknown_application_or_beneficiary_is_422_naming_the_field(api):  # noqa: F811
    alice = api["alice"]
    app = alice.post("/api/v1/cart/items", {"application": "erp"})
    who = alice.post("/api/v1/cart/items", {"application": "crm", "beneficiary": "zed"})
    assert (app.status_code, app.get_json()["field"]) == (422, "application")
    assert (who.status_code, who.get_json()["field"]) == (422, "beneficiary")


def test_a_cancelled_item_frees_the_slot_for_a_new_request(api):  # noqa: F811
    alice = api["alice"]
    item = alice.submit(("crm", "bob")).get_json()["items"][0]
    assert alice.post(f"/api/v1/items/{item['id']}/cancel").status_code == 200
    assert alice.post(f"/api/v1/items/{item['id']}/cancel").status_code == 409
    assert alice.submit(("crm", "bob")).status_code == 201
