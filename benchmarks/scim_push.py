"""An identity provider's initial push through the inbound SCIM server vs the JSON import.

    .venv/bin/python benchmarks/scim_push.py [--users 2000] [--per-group 25] [--rounds 3]
        [--database sqlite,postgresql]

Per round, on a fresh database (shipped workflows, the test directory): POST /scim/v2/Users for
N people (name, email, department), then POST /scim/v2/Groups for N / per-group groups of
per-group members each, every group granting one disconnected application, so each member
gets an assignment and an item, applied inline (25 × 1 pairs is under INLINE_PAIRS) or by the
worker (`changes.run_due`, timed too). Requests go through the Flask test client (the whole
app: auth, unit of work, scim2-server), one at a time, as Entra and Okta push.
Baseline in the same round, on its own fresh database: the same people and groups (with the
same grant) in one `accessflow import` of the directory file. Prints seconds, users/s and the
ratio push / import, min / median / max over the rounds.
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DATABASES, database_url, fresh_app, spread  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from api.app import deploy_shipped_workflows  # noqa: E402
from engine.access import changes  # noqa: E402
from engine.access import groups as access_groups  # noqa: E402
from engine.db import db  # noqa: E402
from engine.directory.importer import import_directory  # noqa: E402
from engine.models import Assignment  # noqa: E402
from engine.scim.tokens import issue_scim_token  # noqa: E402
from engine.unit_of_work import unit_of_work  # noqa: E402
from tests.conftest import DIRECTORY  # noqa: E402

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
APP = {
    "key": "pushed",
    "name": "Pushed",
    "kind": "disconnected",
    "approver_group": "crm-approvers",
    "fulfiller_group": "it-fulfillers",
}


def prepared(url: str):
    app = fresh_app(url)
    with app.app_context(), unit_of_work():
        deploy_shipped_workflows()
        import_directory({**DIRECTORY, "applications": DIRECTORY["applications"] + [APP]})
    return app


def drain(app, expected: int) -> None:
    """What the worker does with queued group changes; then every member holds the grant."""
    with app.app_context():
        changes.run_due("bench")
        held = db.session.scalar(
            select(func.count()).where(Assignment.ended_at.is_(None), Assignment.source == "group")
        )
        assert held == expected, (held, expected)


def push_seconds(url: str, users: int, per_group: int) -> float:
    app = prepared(url)
    with app.app_context(), unit_of_work():
        token = issue_scim_token("bench")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    started = time.perf_counter()
    ids = []
    for i in range(users):
        body = {
            "schemas": [USER],
            "userName": f"p{i:06d}",
            "name": {"givenName": "P", "familyName": f"{i}"},
            "emails": [{"value": f"p{i}@example.com", "type": "work", "primary": True}],
        }
        answer = client.post("/scim/v2/Users", json=body, headers=headers)
        assert answer.status_code == 201, answer.get_json()
        ids.append(answer.get_json()["id"])
    for g in range(users // per_group):
        members = [{"value": uid} for uid in ids[g * per_group : (g + 1) * per_group]]
        body = {"schemas": [GROUP], "displayName": f"g{g:05d}"}
        answer = client.post("/scim/v2/Groups", json=body, headers=headers)
        assert answer.status_code == 201, answer.get_json()
        with app.app_context(), unit_of_work():  # the admin's grant, not timed separately
            access_groups.add_application(None, f"g{g:05d}", APP["key"])
        patch = {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "members", "value": members}],
        }
        answer = client.patch(
            f"/scim/v2/Groups/{answer.get_json()['id']}", json=patch, headers=headers
        )
        assert answer.status_code == 200, answer.get_json()
    drain(app, users // per_group * per_group)
    elapsed = time.perf_counter() - started
    with app.app_context():
        db.engine.dispose()
    return elapsed


def import_seconds(url: str, users: int, per_group: int) -> float:
    app = prepared(url)
    people = [
        {
            "username": f"p{i:06d}",
            "email": f"p{i}@example.com",
            "first_name": "P",
            "last_name": f"{i}",
        }
        for i in range(users)
    ]
    groups = [
        {
            "name": f"g{g:05d}",
            "members": [p["username"] for p in people[g * per_group : (g + 1) * per_group]],
            "applications": [{"application": APP["key"]}],
        }
        for g in range(users // per_group)
    ]
    started = time.perf_counter()
    with app.app_context(), unit_of_work():
        import_directory({"users": people, "groups": groups})
    drain(app, users // per_group * per_group)
    elapsed = time.perf_counter() - started
    with app.app_context():
        db.engine.dispose()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--per-group", type=int, default=25)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database", default=",".join(DATABASES))
    args = parser.parse_args()
    for kind in args.database.split(","):
        pushes, imports = [], []
        for _ in range(args.rounds):
            with database_url(kind) as url:
                pushes.append(push_seconds(url, args.users, args.per_group))
            with database_url(kind) as url:
                imports.append(import_seconds(url, args.users, args.per_group))
        ratios = [p / i for p, i in zip(pushes, imports, strict=True)]
        rate = [args.users / p for p in pushes]
        print(
            f"{kind}: {args.users} users, {args.users // args.per_group} groups | "
            f"push s {spread(pushes)} | users/s {spread(rate)} | "
            f"import s {spread(imports)} | push/import {spread(ratios)}",
            flush=True,
        )


if __name__ == "__main__":
    main()
