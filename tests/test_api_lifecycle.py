"""The access lifecycle over the REST API: people, groups, applications, assignments, settings
and the caller's own access (DESIGN.md section 7)."""

import csv
import io
import json

import pytest
from sqlalchemy import select

from engine.db import db
from engine.directory.lookup import application_by_key, user_by_username
from engine.models import Account, AuditEvent, RequestItem, User
from tests.api_client import api  # noqa: F401

ADMIN_GETS = [
    "/api/v1/admin/users",
    "/api/v1/admin/users/alice",
    "/api/v1/admin/groups",
    "/api/v1/admin/groups/admins",
    "/api/v1/admin/applications/crm",
    "/api/v1/admin/applications/crm/accounts",
    "/api/v1/admin/applications/crm/assignments",
    "/api/v1/admin/settings",
]


def put(caller, path, json=None):
    return caller.call("PUT", path, json=json)


def patch(caller, path, json=None):
    return caller.call("PATCH", path, json=json)


def items_of(beneficiary, application):
    db.session.expire_all()
    user = db.session.scalar(select(User).where(User.username == beneficiary))
    app = application_by_key(application)
    return db.session.scalars(
        select(RequestItem).where(
            RequestItem.beneficiary_id == user.id, RequestItem.application_id == app.id
        )
    ).all()


def give_account(username, application, external_id):
    user, app = user_by_username(username), application_by_key(application)
    db.session.add(Account(user_id=user.id, application_id=app.id, external_id=external_id))
    db.session.commit()


# ---- authorization


@pytest.mark.parametrize("path", ADMIN_GETS)
def test_non_admins_are_refused_every_admin_read(api, path):  # noqa: F811
    answer = api["alice"].get(path)
    assert answer.status_code == 403, answer.get_json()
    assert answer.mimetype == "application/problem+json"


def test_non_admins_are_refused_admin_changes(api):  # noqa: F811
    alice = api["alice"]
    assert put(alice, "/api/v1/admin/groups/admins/members/alice").status_code == 403
    assert patch(alice, "/api/v1/admin/users/bob", {"active": False}).status_code == 403
    assert alice.post("/api/v1/admin/users", {"username": "zed"}).status_code == 403
    assert (
        patch(alice, "/api/v1/admin/settings", {"group_auto_provisioning": "all"}).status_code
        == 403
    )
    assert (
        alice.post("/api/v1/admin/applications/crm/assignments", {"users": ["alice"]}).status_code
        == 403
    )
    assert user_by_username("bob").active
    assert "admins" not in user_by_username("alice").group_names


def test_no_token_is_401(app):
    assert app.test_client().get("/api/v1/me/access").status_code == 401


# ---- the caller's own access


def test_me_access_lists_only_the_callers_assignments_with_accounts(api):  # noqa: F811
    root = api["root"]
    made = root.post(
        "/api/v1/admin/applications/crm/assignments",
        {"users": ["alice"], "account_mode": "link", "reason": "onboarding"},
    )
    assert made.status_code == 201, made.get_json()
    give_account("alice", "crm", "alice-crm")

    mine = api["alice"].get("/api/v1/me/access")
    assert mine.status_code == 200
    [entry] = mine.get_json()["items"]
    assert (entry["application"], entry["source"], entry["role"]) == ("crm", "admin", None)
    assert entry["since"] and entry["until"] is None
    assert [(a["external_id"], a["status"]) for a in entry["accounts"]] == [("alice-crm", "active")]
    assert api["bob"].get("/api/v1/me/access").get_json() == {"items": []}


# ---- people


def test_admin_lists_filters_and_exports_people(api):  # noqa: F811
    root = api["root"]
    everyone = root.get("/api/v1/admin/users").get_json()["items"]
    assert {"alice", "bob", "root"} <= {u["username"] for u in everyone}
    found = root.get("/api/v1/admin/users?q=baker").get_json()["items"]
    assert [u["username"] for u in found] == ["bob"]
    fulfillers = root.get("/api/v1/admin/users?group=it-fulfillers").get_json()["items"]
    assert [u["username"] for u in fulfillers] == ["fiona", "fred"]
    assert root.get("/api/v1/admin/users?active=false").get_json() == {"items": [], "next": None}

    exported = root.get("/api/v1/admin/users?format=csv&group=it-fulfillers")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert [(r["username"], r["manager"], r["groups"]) for r in rows] == [
        ("fiona", "mark", "it-fulfillers"),
        ("fred", "mark", "it-fulfillers"),
    ]
    assert root.get("/api/v1/admin/users?format=xml").status_code == 422


def test_the_people_list_is_read_page_by_page_and_the_csv_has_everyone(api):  # noqa: F811
    root = api["root"]
    everyone = [
        u["username"] for u in root.get("/api/v1/admin/users?limit=200").get_json()["items"]
    ]
    assert everyone == sorted(everyone) and len(everyone) > 3
    seen, cursor = [], None
    while True:
        path = "/api/v1/admin/users?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = root.get(path).get_json()
        assert len(page["items"]) <= 2
        seen += [u["username"] for u in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == everyone
    exported = root.get("/api/v1/admin/users?format=csv&limit=1")
    assert len(exported.get_data(as_text=True).splitlines()) == len(everyone) + 1
    assert root.get("/api/v1/admin/users?cursor=nonsense").status_code == 422
    assert root.get("/api/v1/admin/users?limit=0").status_code == 422


def test_admin_creates_a_person_and_a_duplicate_is_409(api):  # noqa: F811
    root = api["root"]
    made = root.post(
        "/api/v1/admin/users",
        {"username": "zoe", "email": "zoe@example.com", "manager": "mark", "department": "Ops"},
    )
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert (body["username"], body["manager"], body["active"]) == ("zoe", "mark", True)
    assert "password" not in body
    again = root.post("/api/v1/admin/users", {"username": "zoe"})
    assert again.status_code == 409
    assert root.post("/api/v1/admin/users", {"email": "x@example.com"}).status_code == 422
    assert root.post("/api/v1/admin/users", {"username": "y", "manager": "nobody"}).status_code in (
        404,
        422,
    )


def test_a_person_shows_groups_manager_access_items_and_tasks(api):  # noqa: F811
    api["alice"].submit(("crm", "alice"))
    shown = api["root"].get("/api/v1/admin/users/alice")
    assert shown.status_code == 200
    body = shown.get_json()
    assert (body["username"], body["manager"]) == ("alice", "mark")
    assert body["access"] == []
    assert [(i["application"], i["status"]) for i in body["open_items"]] == [
        ("crm", "pending_approval")
    ]
    mark = api["root"].get("/api/v1/admin/users/mark").get_json()
    assert [t["application"] for t in mark["open_tasks"]] == ["crm"]
    assert api["root"].get("/api/v1/admin/users/nobody").status_code == 404


def test_patch_changes_a_manager_and_an_email(api):  # noqa: F811
    root = api["root"]
    changed = patch(root, "/api/v1/admin/users/bob", {"manager": "gina", "email": "b@example.com"})
    assert changed.status_code == 200, changed.get_json()
    assert (changed.get_json()["manager"], changed.get_json()["email"]) == ("gina", "b@example.com")
    cleared = patch(root, "/api/v1/admin/users/bob", {"manager": None})
    assert cleared.status_code == 200 and cleared.get_json()["manager"] is None
    assert patch(root, "/api/v1/admin/users/bob", {"manager": "nobody"}).status_code == 404
    assert patch(root, "/api/v1/admin/users/nobody", {"email": "x@y.z"}).status_code == 404
    assert patch(root, "/api/v1/admin/users/bob", {"colour": "red"}).status_code == 422
    assert patch(root, "/api/v1/admin/users/bob", {"active": "no"}).status_code == 422


def test_patch_active_false_runs_the_leaver(api):  # noqa: F811
    root = api["root"]
    give_account("bob", "crm", "bob-crm")
    assert (
        root.post(
            "/api/v1/admin/applications/crm/assignments", {"users": ["bob"], "account_mode": "link"}
        ).status_code
        == 201
    )
    pending = api["alice"].submit(("wiki", "bob")).get_json()["items"][0]

    left = patch(root, "/api/v1/admin/users/bob", {"active": False, "reason": "resigned"})
    assert left.status_code == 200, left.get_json()
    assert left.get_json()["active"] is False
    assert api["alice"].get(f"/api/v1/items/{pending['id']}").get_json()["status"] == "cancelled"
    shown = root.get("/api/v1/admin/users/bob").get_json()
    assert shown["access"] == []
    removal = [i for i in items_of("bob", "crm") if i.account_mode == "remove"]
    assert len(removal) == 1, "the leaver asks for the crm account to be removed"
    assert root.get("/api/v1/admin/users?active=false").get_json()["items"][0]["username"] == "bob"


# ---- groups


def test_admin_creates_a_group_and_joining_starts_its_items(api):  # noqa: F811
    root = api["root"]
    made = root.post("/api/v1/admin/groups", {"name": "sales", "description": "Sales"})
    assert made.status_code == 201, made.get_json()
    assert root.post("/api/v1/admin/groups", {"name": "sales"}).status_code == 409
    granted = put(root, "/api/v1/admin/groups/sales/applications/crm")
    assert granted.status_code == 200, granted.get_json()
    assert [a["application"] for a in granted.get_json()["applications"]] == ["crm"]

    joined = put(root, "/api/v1/admin/groups/sales/members/bob")
    assert joined.status_code == 200, joined.get_json()
    body = joined.get_json()
    assert [m["username"] for m in body["members"]] == ["bob"]
    assert body["counts"] == {"members": 1, "applications": 1}
    assert body["applications"][0]["assigned"] == 1
    [item] = items_of("bob", "crm")
    assert item.open_key is not None and item.origin == "group"
    again = put(root, "/api/v1/admin/groups/sales/members/bob")
    assert again.status_code == 200 and len(items_of("bob", "crm")) == 1

    [access] = api["bob"].get("/api/v1/me/access").get_json()["items"]
    assert (access["source"], access["group"]) == ("group", "sales")

    listed = root.get("/api/v1/admin/groups").get_json()["items"]
    assert {"name": "sales", "description": "Sales", "members": 1, "applications": 1} in listed

    assert root.delete("/api/v1/admin/groups/sales/members/bob").status_code == 204
    assert api["bob"].get("/api/v1/me/access").get_json() == {"items": []}
    assert root.delete("/api/v1/admin/groups/sales/applications/crm").status_code == 204
    assert root.get("/api/v1/admin/groups/sales").get_json()["applications"] == []


def test_group_calls_answer_404_and_422(api):  # noqa: F811
    root = api["root"]
    assert root.get("/api/v1/admin/groups/nope").status_code == 404
    assert put(root, "/api/v1/admin/groups/nope/members/bob").status_code == 404
    assert put(root, "/api/v1/admin/groups/admins/members/nobody").status_code == 404
    assert root.delete("/api/v1/admin/groups/admins/members/nobody").status_code == 404
    assert put(root, "/api/v1/admin/groups/admins/applications/nope").status_code == 404
    bad_role = put(root, "/api/v1/admin/groups/admins/applications/crm", {"role": "boss"})
    assert bad_role.status_code == 422
    assert root.post("/api/v1/admin/groups", {"name": ""}).status_code == 422


# ---- applications, accounts and assignments


def test_admin_creates_and_edits_an_application_never_showing_a_secret(api):  # noqa: F811
    root = api["root"]
    made = root.post(
        "/api/v1/admin/applications",
        {
            "key": "hr",
            "name": "HR",
            "kind": "connected",
            "connector": {
                "type": "scim",
                "base_url": "http://127.0.0.1:9/hr",
                "token": "s3cr3t-hr",
            },
            "roles": [{"key": "viewer", "name": "Viewer"}],
        },
    )
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["connector"]["token"] == "********"
    assert root.post("/api/v1/admin/applications", {"key": "hr"}).status_code == 409

    edited = patch(
        root,
        "/api/v1/admin/applications/hr",
        {
            "enabled": False,
            "group_auto_provisioning": True,
            "connector": {
                "type": "scim",
                "base_url": "http://127.0.0.1:9/hr2",
                "token": "********",
            },
        },
    )
    assert edited.status_code == 200, edited.get_json()
    body = edited.get_json()
    assert (body["enabled"], body["group_auto_provisioning"]) == (False, True)
    assert body["connector"] == {
        "type": "scim",
        "base_url": "http://127.0.0.1:9/hr2",
        "token": "********",
    }
    from engine import encryption

    app = application_by_key("hr")
    assert encryption.reveal(app.connector_settings, "hr")["token"] == "s3cr3t-hr"
    wiki = root.get("/api/v1/admin/applications/wiki")
    assert wiki.status_code == 200 and wiki.get_json()["connector"]["token"] == "********"
    for answer in (made, edited, wiki, root.get("/api/v1/applications")):
        text = answer.get_data(as_text=True)
        assert "s3cr3t-hr" not in text and "wiki-secret-token" not in text
    events = db.session.scalars(select(AuditEvent)).all()
    dumped = json.dumps([(e.event, e.comment, e.details) for e in events], default=str)
    assert "s3cr3t-hr" not in dumped and "wiki-secret-token" not in dumped

    assert patch(root, "/api/v1/admin/applications/nope", {"enabled": True}).status_code == 404
    assert patch(root, "/api/v1/admin/applications/hr", {"kind": "weird"}).status_code == 422


def test_accounts_of_an_application_name_their_holder(api):  # noqa: F811
    give_account("alice", "crm", "alice-crm")
    answer = api["root"].get("/api/v1/admin/applications/crm/accounts")
    assert answer.status_code == 200
    rows = [
        (a["user"], a["external_id"], a["status"], a["orphan"]) for a in answer.get_json()["items"]
    ]
    assert rows == [("alice", "alice-crm", "active", False)]
    assert api["root"].get("/api/v1/admin/applications/nope/accounts").status_code == 404


def test_admin_assigns_lists_exports_and_ends_assignments(api):  # noqa: F811
    root = api["root"]
    made = root.post(
        "/api/v1/admin/applications/crm/assignments",
        {"users": ["alice", "bob"], "account_mode": "create", "reason": "project"},
    )
    assert made.status_code == 201, made.get_json()
    assigned = made.get_json()["items"]
    assert [(a["user"], a["source"]) for a in assigned] == [("alice", "admin"), ("bob", "admin")]
    assert len(items_of("alice", "crm")) == 1, "an item creates alice's account"

    listed = root.get("/api/v1/admin/applications/crm/assignments?user=bob").get_json()["items"]
    assert [a["user"] for a in listed] == ["bob"]
    exported = root.get("/api/v1/admin/applications/crm/assignments?format=csv")
    assert exported.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert sorted(r["user"] for r in rows) == ["alice", "bob"]

    ended = root.delete(f"/api/v1/admin/assignments/{assigned[1]['id']}")
    assert ended.status_code == 200 and ended.get_json()["ended_at"] is not None
    left = root.get("/api/v1/admin/applications/crm/assignments").get_json()["items"]
    assert [a["user"] for a in left] == ["alice"]
    every = root.get("/api/v1/admin/applications/crm/assignments?include_ended=true")
    assert len(every.get_json()["items"]) == 2

    unknown = "00000000-0000-0000-0000-000000000000"
    assert root.delete(f"/api/v1/admin/assignments/{unknown}").status_code == 404
    assert (
        root.post("/api/v1/admin/applications/nope/assignments", {"users": ["bob"]}).status_code
        == 404
    )
    for bad in ({"users": []}, {"users": ["nobody"]}, {"users": ["bob"], "account_mode": "x"}):
        assert root.post("/api/v1/admin/applications/crm/assignments", bad).status_code == 422
    role = root.post("/api/v1/admin/applications/crm/assignments", {"users": ["bob"], "role": "x"})
    assert role.status_code == 422


# ---- settings


def test_admin_reads_and_changes_settings(api):  # noqa: F811
    root = api["root"]
    assert root.get("/api/v1/admin/settings").get_json() == {
        "group_auto_provisioning": "per_application",
        "lanes": {},
        "local_passwords": "on",
    }
    changed = patch(root, "/api/v1/admin/settings", {"group_auto_provisioning": "all"})
    assert changed.status_code == 200 and changed.get_json()["group_auto_provisioning"] == "all"
    assert (
        patch(root, "/api/v1/admin/settings", {"group_auto_provisioning": "x"}).status_code == 422
    )
    assert patch(root, "/api/v1/admin/settings", {"colour": "red"}).status_code == 422


# ---- the cart: roles and account modes


def test_cart_roles_are_checked_and_carried_to_the_item(api):  # noqa: F811
    root, alice = api["root"], api["alice"]
    assert (
        patch(
            root,
            "/api/v1/admin/applications/crm",
            {"roles": [{"key": "viewer", "name": "Viewer"}, {"key": "editor", "name": "Editor"}]},
        ).status_code
        == 200
    )
    missing = alice.post("/api/v1/cart/items", {"application": "crm"})
    assert missing.status_code == 422 and "viewer" in missing.get_json()["detail"]
    unknown = alice.post("/api/v1/cart/items", {"application": "crm", "role": "boss"})
    assert unknown.status_code == 422 and "editor" in unknown.get_json()["detail"]
    line = alice.post("/api/v1/cart/items", {"application": "crm", "role": "editor"})
    assert line.status_code == 201 and line.get_json()["role"] == "editor"
    submitted = alice.post("/api/v1/cart/submit").get_json()
    assert submitted["items"][0]["role"] == "editor"
    assert items_of("alice", "crm")[0].role == "editor"
    no_roles = alice.post("/api/v1/cart/items", {"application": "wiki", "role": "editor"})
    assert no_roles.status_code == 422


def test_update_needs_an_account_and_group_access_is_not_removed_by_request(api):  # noqa: F811
    root, alice = api["root"], api["alice"]
    update = alice.post("/api/v1/cart/items", {"application": "crm", "account_mode": "update"})
    assert update.status_code == 422 and update.get_json()["field"] == "account_mode"

    root.post("/api/v1/admin/groups", {"name": "sales"})
    put(root, "/api/v1/admin/groups/sales/applications/crm")
    put(root, "/api/v1/admin/groups/sales/members/alice")
    give_account("alice", "crm", "alice-crm")
    removal = alice.post("/api/v1/cart/items", {"application": "crm", "account_mode": "remove"})
    assert removal.status_code == 422
    assert "sales" in removal.get_json()["detail"]
    assert "remove them from the group instead" in removal.get_json()["detail"]
    assert (
        alice.post(
            "/api/v1/cart/items", {"application": "crm", "account_mode": "update"}
        ).status_code
        == 201
    )


def test_the_api_document_describes_the_lifecycle_calls(app):
    spec = app.test_client().get("/api/openapi.json").get_json()
    for path in (
        "/api/v1/me/access",
        "/api/v1/admin/users",
        "/api/v1/admin/users/{username}",
        "/api/v1/admin/groups/{name}/members/{username}",
        "/api/v1/admin/applications/{key}/accounts",
        "/api/v1/admin/applications/{key}/assignments",
        "/api/v1/admin/assignments/{assignment_id}",
        "/api/v1/admin/settings",
    ):
        assert path in spec["paths"], path
        for method, operation in spec["paths"][path].items():
            if method == "parameters":
                continue
            assert operation.get("summary") or operation.get("description"), path
