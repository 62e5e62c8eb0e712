"""Twenty SCIM clients at once on PostgreSQL (threads, a session each): no person twice, no
membership lost, and a lost race is a 409 `uniqueness`, never a 500."""

import threading

import pytest
from sqlalchemy import func, select

from engine.db import db
from engine.models import Group, User, group_members
from tests.scim_client import GROUP, USER, IdentityProvider

CLIENTS = 20
pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def all_at_once(app, work):
    """Run work(i) in CLIENTS threads released together; returns their answers by i."""
    start, answers = threading.Barrier(CLIENTS), {}

    def run(i):
        with app.app_context():
            start.wait()
            answers[i] = work(i)
            db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return answers


def test_twenty_clients_creating_people_and_adding_them_to_one_group_lose_nobody(app):
    idp = IdentityProvider(app, "okta")
    group = idp.create_group("everyone")

    def join(i):
        created = idp.post("/Users", {"schemas": [USER], "userName": f"new{i}"})
        if created.status_code != 201:
            return created.status_code, created.get_json()
        member = {"value": created.get_json()["id"]}
        added = idp.patch(
            f"/Groups/{group['id']}", {"op": "add", "path": "members", "value": [member]}
        )
        return added.status_code, added.get_json()

    answers = all_at_once(app, join)
    assert sorted(status for status, _ in answers.values()) == [200] * CLIENTS, answers
    db.session.expire_all()
    members = db.session.scalar(
        select(func.count())
        .select_from(group_members)
        .where(group_members.c.group_id == group["id"])
    )
    assert members == CLIENTS
    listed = idp.get(f"/Groups/{group['id']}").get_json()["members"]
    assert len(listed) == CLIENTS


def test_twenty_clients_pushing_the_same_person_make_one_and_nineteen_conflicts(app):
    idp = IdentityProvider(app, "entra")

    def push(_):
        response = idp.post("/Users", {"schemas": [USER], "userName": "twin"})
        return response.status_code, response.get_json()

    answers = all_at_once(app, push)
    statuses = sorted(status for status, _ in answers.values())
    assert statuses == [201] + [409] * (CLIENTS - 1), answers
    assert {body.get("scimType") for status, body in answers.values() if status == 409} == {
        "uniqueness"
    }
    assert db.session.scalar(select(func.count()).where(User.username == "twin")) == 1


def test_twenty_clients_pushing_the_same_group_make_one(app):
    idp = IdentityProvider(app, "entra")

    def push(_):
        response = idp.post("/Groups", {"schemas": [GROUP], "displayName": "twins"})
        return response.status_code, response.get_json()

    answers = all_at_once(app, push)
    statuses = sorted(status for status, _ in answers.values())
    assert statuses == [201] + [409] * (CLIENTS - 1), answers
    assert db.session.scalar(select(func.count()).where(Group.name == "twins")) == 1
