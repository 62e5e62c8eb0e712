"""Every error the API gives is application/problem+json, names the field at fault, and never
carries a stack trace or SQL."""

import pytest

from tests.api_client import api  # noqa: F401


def assert_problem(answer, status):
    assert answer.status_code == status
    assert answer.mimetype == "application/problem+json"
    body = answer.get_json()
    assert body["status"] == status and body["title"]
    assert "Traceback" not in answer.get_data(as_text=True)
    return body


def test_no_token_is_401_with_a_bearer_challenge(app):
    answer = app.test_client().get("/api/v1/tasks")
    assert_problem(answer, 401)
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_or_made_up_token_is_401(api, app):  # noqa: F811
    alice = api["alice"]
    assert alice.get("/api/v1/me").get_json()["username"] == "alice"
    assert alice.post("/api/v1/me/tokens/revoke").get_json() == {"revoked": 1}
    assert_problem(alice.get("/api/v1/me"), 401)
    made_up = app.test_client().get("/api/v1/me", headers={"Authorization": "Bearer af_nope"})
    assert_problem(made_up, 401)


def test_the_browser_session_cookie_does_not_authenticate_the_api(app, people):
    client = app.test_client()
    with client.session_transaction() as session:
        session["user_id"] = people["alice"].id
    assert_problem(client.get("/api/v1/me"), 401)


def test_unknown_fields_are_422_naming_the_field(api):  # noqa: F811
    body = assert_problem(
        api["alice"].post("/api/v1/cart/items", {"application": "crm", "colour": "blue"}), 422
    )
    assert body["field"] == "colour" and "colour" in body["detail"]
    assert body["errors"] == {"colour": ["Unknown field."]}


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"application": 42}, "application"),
        ({"application": "crm", "account_mode": "borrow"}, "account_mode"),
        ({"beneficiary": "bob"}, "application"),
        ({"application": "crm\x00"}, "application"),
    ],
)
def test_wrong_types_and_values_are_422_naming_the_field(api, payload, field):  # noqa: F811
    body = assert_problem(api["alice"].post("/api/v1/cart/items", payload), 422)
    assert body["field"] == field


def test_a_body_that_is_not_an_object_is_422(api):  # noqa: F811
    assert_problem(api["alice"].post("/api/v1/cart/items", ["crm"]), 422)


def test_bad_query_values_are_422(api):  # noqa: F811
    alice = api["alice"]
    assert assert_problem(alice.get("/api/v1/items?status=lost"), 422)["field"] == "status"
    assert assert_problem(alice.get("/api/v1/tasks?limit=0"), 422)["field"] == "limit"
    assert assert_problem(alice.get("/api/v1/tasks?cursor=%%%"), 422)["field"] == "cursor"


def test_unknown_ids_routes_and_methods_are_problems(api):  # noqa: F811
    alice = api["alice"]
    assert_problem(alice.get("/api/v1/items/6f1c1a52-8a8e-4c1e-9d8e-1c2b3a4d5e6f"), 404)
    assert_problem(alice.get("/api/v1/items/not-a-uuid"), 404)
    assert_problem(alice.get("/api/v1/nothing-here"), 404)
    answer = alice.delete("/api/v1/tasks")
    assert_problem(answer, 405)
    assert "GET" in answer.headers["Allow"]


def test_a_second_fulfiller_claiming_gets_409(api):  # noqa: F811
    item = api["alice"].submit(("crm", "alice")).get_json()["items"][0]["id"]
    for name in ("mark", "gina"):
        person = api[name]
        done = person.post(
            f"/api/v1/tasks/{person.open_task(item)['id']}/complete", {"decision": "approve"}
        )
        assert done.status_code == 200
    fred, fiona = api["fred"], api["fiona"]
    task = fred.open_task(item)["id"]
    assert fred.post(f"/api/v1/tasks/{task}/claim").get_json()["claimed_by"] == "fred"
    body = assert_problem(fiona.post(f"/api/v1/tasks/{task}/claim"), 409)
    assert body["detail"] == "the task is claimed by someone else"
    refused = fiona.post(
        f"/api/v1/tasks/{task}/complete", {"decision": "approve", "account_id": "x"}
    )
    assert_problem(refused, 409)
    missing = assert_problem(
        fred.post(f"/api/v1/tasks/{task}/complete", {"decision": "approve"}), 422
    )
    assert missing["field"] == "account_id"


def test_a_bug_is_a_bare_500_problem_without_internals(app, api, monkeypatch):  # noqa: F811
    import engine.requests.listing

    def broken(*args, **kwargs):
        raise RuntimeError("SELECT secret FROM internals")

    monkeypatch.setattr(engine.requests.listing, "inbox_page", broken)
    answer = api["alice"].get("/api/v1/tasks")
    body = assert_problem(answer, 500)
    assert "SELECT" not in answer.get_data(as_text=True) and "secret" not in body["detail"]


def test_health_reports_the_database(app):
    answer = app.test_client().get("/healthz")
    assert (answer.status_code, answer.get_json()) == (200, {"status": "ok", "database": "ok"})


def test_a_token_brings_all_of_its_users_groups(api, app):  # noqa: F811
    from engine.db import db
    from engine.directory.importer import import_directory
    from tests.conftest import DIRECTORY

    groups = [{**g, "members": g["members"] + ["dora"]} for g in DIRECTORY["groups"]]
    import_directory({"groups": groups})
    db.session.expunge_all()
    me = api["dora"].get("/api/v1/me").get_json()
    assert me["groups"] == ["admins", "crm-approvers", "designers", "it-fulfillers"]
    assert me["is_admin"] is True
