"""Who may see and do what over the API: requester, beneficiary, stranger, candidate, admin.

alice requests CRM and Wiki for bob; mark (bob's manager) is the candidate on the first tasks;
stan is a stranger; root is an admin. Invisible objects are 404, visible but forbidden 403."""

import pytest

from tests.api_client import api  # noqa: F401

ROLES = {
    "requester": "alice",
    "beneficiary": "bob",
    "stranger": "stan",
    "candidate": "mark",
    "admin": "root",
}


@pytest.fixture
def story(api):  # noqa: F811
    callers = {role: api[name] for role, name in ROLES.items()}
    answer = callers["requester"].submit(("crm", "bob"), ("wiki", "bob"))
    assert answer.status_code == 201
    crm, wiki = answer.get_json()["items"]
    tasks = {i["id"]: callers["candidate"].open_task(i["id"])["id"] for i in (crm, wiki)}
    return callers, answer.get_json()["id"], crm["id"], wiki["id"], tasks


def statuses(callers, method, path, roles=ROLES, json=None):
    return {role: callers[role].call(method, path, json=json).status_code for role in roles}


def test_an_item_is_visible_to_its_people_and_nobody_else(story):
    callers, _, crm, _, _ = story
    assert statuses(callers, "GET", f"/api/v1/items/{crm}") == {
        "requester": 200,
        "beneficiary": 200,
        "stranger": 404,
        "candidate": 200,
        "admin": 200,
    }


def test_a_request_is_visible_to_its_requester_and_admins(story):
    callers, request_id, _, _, _ = story
    assert statuses(callers, "GET", f"/api/v1/requests/{request_id}") == {
        "requester": 200,
        "beneficiary": 404,
        "stranger": 404,
        "candidate": 404,
        "admin": 200,
    }


def test_a_task_is_visible_to_candidates_the_items_people_and_admins(story):
    callers, _, crm, _, tasks = story
    assert statuses(callers, "GET", f"/api/v1/tasks/{tasks[crm]}") == {
        "requester": 200,
        "beneficiary": 200,
        "stranger": 404,
        "candidate": 200,
        "admin": 200,
    }


def test_only_candidates_and_admins_claim_a_task(story):
    callers, _, crm, wiki, tasks = story
    refused = statuses(
        callers,
        "POST",
        f"/api/v1/tasks/{tasks[crm]}/claim",
        ("requester", "beneficiary", "stranger"),
    )
    assert refused == {"requester": 403, "beneficiary": 403, "stranger": 404}
    assert callers["candidate"].post(f"/api/v1/tasks/{tasks[crm]}/claim").status_code == 200
    assert callers["admin"].post(f"/api/v1/tasks/{tasks[crm]}/claim").status_code == 409
    assert callers["admin"].post(f"/api/v1/tasks/{tasks[wiki]}/claim").status_code == 200


def test_only_the_claimer_or_an_admin_releases_a_task(story):
    callers, _, crm, _, tasks = story
    path = f"/api/v1/tasks/{tasks[crm]}/release"
    callers["candidate"].post(f"/api/v1/tasks/{tasks[crm]}/claim")
    refused = statuses(callers, "POST", path, ("requester", "beneficiary", "stranger"))
    assert refused == {"requester": 409, "beneficiary": 409, "stranger": 404}
    assert callers["candidate"].post(path).status_code == 200
    assert callers["admin"].post(path).status_code == 200


def test_only_candidates_and_admins_decide_a_task(story):
    callers, _, crm, wiki, tasks = story
    approve = {"decision": "approve", "comment": "fine"}
    refused = statuses(
        callers,
        "POST",
        f"/api/v1/tasks/{tasks[crm]}/complete",
        ("requester", "beneficiary", "stranger"),
        json=approve,
    )
    assert refused == {"requester": 403, "beneficiary": 403, "stranger": 404}
    done = callers["candidate"].post(f"/api/v1/tasks/{tasks[crm]}/complete", approve)
    assert (done.status_code, done.get_json()["status"]) == (200, "completed")
    admin = callers["admin"].post(f"/api/v1/tasks/{tasks[wiki]}/complete", approve)
    assert admin.status_code == 200


def test_only_the_requester_or_an_admin_cancels_an_item(story):
    callers, _, crm, wiki, _ = story
    refused = statuses(
        callers, "POST", f"/api/v1/items/{crm}/cancel", ("beneficiary", "stranger", "candidate")
    )
    assert refused == {"beneficiary": 403, "stranger": 404, "candidate": 403}
    mine = callers["requester"].post(f"/api/v1/items/{crm}/cancel", {"reason": "changed my mind"})
    assert (mine.status_code, mine.get_json()["status"]) == (200, "cancelled")
    assert callers["admin"].post(f"/api/v1/items/{wiki}/cancel").status_code == 200


def test_a_cart_line_belongs_to_its_owner_alone(story):
    callers = story[0]
    line = callers["requester"].post("/api/v1/cart/items", {"application": "crm"}).get_json()
    path = f"/api/v1/cart/items/{line['id']}"
    others = ("beneficiary", "stranger", "candidate", "admin")
    assert statuses(callers, "DELETE", path, others) == dict.fromkeys(others, 404)
    assert callers["requester"].delete(path).status_code == 204
    assert callers["requester"].get("/api/v1/cart").get_json() == {"items": []}


def test_lists_show_each_person_only_their_own(story):
    callers, request_id, crm, wiki, tasks = story
    assert [r["id"] for r in callers["requester"].get("/api/v1/requests").get_json()["items"]] == [
        request_id
    ]
    assert callers["stranger"].get("/api/v1/requests").get_json()["items"] == []
    assert {i["id"] for i in callers["beneficiary"].get("/api/v1/items").get_json()["items"]} == {
        crm,
        wiki,
    }
    assert callers["stranger"].get("/api/v1/items").get_json()["items"] == []
    inbox = {t["id"] for t in callers["candidate"].get("/api/v1/tasks").get_json()["items"]}
    assert inbox == set(tasks.values())
    assert callers["stranger"].get("/api/v1/tasks").get_json()["items"] == []
    assert callers["requester"].get("/api/v1/tasks").get_json()["items"] == []


def test_connector_settings_are_shown_to_admins_only_and_never_the_token(story):
    callers = story[0]
    by_role = {
        role: {a["key"]: a for a in callers[role].get("/api/v1/applications").get_json()["items"]}
        for role in ("requester", "admin")
    }
    assert by_role["requester"]["wiki"]["connector"] is None
    assert by_role["admin"]["wiki"]["connector"]["token"] == "********"
    assert by_role["admin"]["wiki"]["connector"]["base_url"].startswith("http://")
