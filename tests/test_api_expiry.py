"""Time-bound access over the REST API: end_date on the cart, the application's limits, the
end date on items and "my access", and the admins' expiring-soon list (paged, CSV)."""

import csv
import io
from datetime import date, timedelta

from sqlalchemy import select

from engine.db import db
from engine.models import Assignment
from tests.api_client import api  # noqa: F401
from tests.flow import decide


def in_days(days: int) -> str:
    return (date.today() + timedelta(days=days)).isoformat()


def limit_crm(admin, **fields):
    answer = admin.call("PATCH", "/api/v1/admin/applications/crm", json=fields)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def add(caller, **line):
    return caller.post("/api/v1/cart/items", {"application": "crm", "beneficiary": "bob", **line})


def test_an_admin_sets_max_duration_and_require_end_date_and_the_cart_obeys(api):  # noqa: F811
    shown = limit_crm(api["root"], max_duration="P90D", require_end_date=True)
    assert (shown["max_duration"], shown["require_end_date"]) == ("P90D", True)
    alice = api["alice"]
    catalog = alice.get("/api/v1/applications").get_json()["items"]
    assert next(a for a in catalog if a["key"] == "crm")["max_duration"] == "P90D"

    for line, says in (
        ({}, "limited time"),
        ({"end_date": in_days(200)}, "at most P90D"),
        ({"end_date": in_days(-2)}, "in the past"),
        ({"end_date": "soon"}, "ISO 8601"),
    ):
        refused = add(alice, **line)
        assert refused.status_code == 422, line
        problem = refused.get_json()
        assert problem["field"] == "end_date" and says in problem["detail"], problem

    added = add(alice, end_date=in_days(30))
    assert added.status_code == 201
    assert added.get_json()["end_date"].startswith(in_days(31))  # through the 30th day
    submitted = alice.post("/api/v1/cart/submit").get_json()
    assert submitted["items"][0]["end_date"] == added.get_json()["end_date"]


def test_a_bad_max_duration_is_refused_with_the_field_named(api):  # noqa: F811
    answer = api["root"].call(
        "PATCH", "/api/v1/admin/applications/crm", json={"max_duration": "90 days"}
    )
    assert answer.status_code == 422
    assert answer.get_json()["field"] == "max_duration"


def test_submit_refuses_a_line_past_a_maximum_set_since_and_names_the_line(api):  # noqa: F811
    alice = api["alice"]
    line = add(alice, end_date=in_days(60)).get_json()
    limit_crm(api["root"], max_duration="P30D")
    refused = alice.post("/api/v1/cart/submit")
    assert refused.status_code == 422
    problem = refused.get_json()
    assert (problem["field"], problem["line"]) == ("end_date", line["id"])
    assert [x["id"] for x in alice.get("/api/v1/cart").get_json()["items"]] == [line["id"]]


def test_my_access_shows_the_end_and_admins_list_what_expires_soon(api, people):  # noqa: F811
    alice, root = api["alice"], api["root"]
    for beneficiary, days in (("bob", 10), ("stan", 60)):
        add(alice, beneficiary=beneficiary, end_date=in_days(days))
    for item in alice.post("/api/v1/cart/submit").get_json()["items"]:
        from engine.models import RequestItem

        row = db.session.get(RequestItem, item["id"])
        decide(people["mark"], row)
        decide(people["gina"], row)
        decide(people["fred"], row, account_id=f"CRM-{item['beneficiary']}")

    [bob_access] = api["bob"].get("/api/v1/me/access").get_json()["items"]
    assert bob_access["until"].startswith(in_days(11))

    soon = root.get("/api/v1/admin/assignments?expiring_within=P30D").get_json()
    assert [(a["user"], a["application"]) for a in soon["items"]] == [("bob", "crm")]
    both = root.get("/api/v1/admin/assignments?expiring_within=P90D&limit=1").get_json()
    assert [a["user"] for a in both["items"]] == ["bob"] and both["next"]
    rest = root.get(f"/api/v1/admin/assignments?expiring_within=P90D&cursor={both['next']}")
    assert [a["user"] for a in rest.get_json()["items"]] == ["stan"]
    exported = root.get("/api/v1/admin/assignments?expiring_within=P90D&format=csv")
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert [(r["user"], r["until"][:10]) for r in rows] == [
        ("bob", in_days(11)),
        ("stan", in_days(61)),
    ]

    assert alice.get("/api/v1/admin/assignments").status_code == 403
    bad = root.get("/api/v1/admin/assignments?expiring_within=soon")
    assert bad.status_code == 422 and bad.get_json()["field"] == "expiring_within"


def test_an_admin_assignment_carries_an_end_date(api):  # noqa: F811
    answer = api["root"].post(
        "/api/v1/admin/applications/crm/assignments",
        {"users": ["bob"], "end_date": in_days(5), "reason": "contract"},
    )
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["items"][0]["until"].startswith(in_days(6))
    stored = db.session.scalar(select(Assignment).where(Assignment.source == "admin"))
    assert stored.ends_at.date().isoformat() == in_days(6)
    past = api["root"].post(
        "/api/v1/admin/applications/crm/assignments", {"users": ["stan"], "end_date": in_days(-1)}
    )
    assert past.status_code == 422 and past.get_json()["field"] == "end_date"


def test_the_api_document_describes_the_expiring_list(app):
    spec = app.test_client().get("/api/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/admin/assignments"]["get"]
    assert "expiring_within" in [p["name"] for p in operation["parameters"]]
    cart_line = spec["components"]["schemas"]["CartLineIn"]["properties"]
    assert "end_date" in cart_line
