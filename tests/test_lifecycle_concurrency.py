"""Access changes racing each other, with real threads and a session each.

Two admins change one group at once; the worker applies a queued change while an admin adds a
member inline; a person leaves while the account their group grants is being created in a real
SCIM server. Each story checks what must hold whatever the interleaving: the right assignments
and items, never two of one, no membership lost, no account left behind in the target.

PostgreSQL is the point (row locks, SKIP LOCKED, real concurrent writers). The stories run on
SQLite too: there one writer at a time holds the file, and a writer that finds it locked gets
"database is locked", which an admin sees as an error and retries, as `_attempt` does here.
"""

import threading
import time

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from api.worker import Worker
from engine import settings
from engine.access import changes, groups
from engine.access.people import deactivate
from engine.db import db
from engine.directory.importer import import_directory
from engine.directory.lookup import application_by_key, user_by_username
from engine.errors import Conflict
from engine.models import Account, Assignment, Group, RequestItem, User, group_members
from engine.unit_of_work import unit_of_work
from tests import scim_server as server_plugin
from tests.flow import act
from tests.provisioning_support import FaultProxy, connect_wiki, scim_users

scim_server_process = server_plugin.scim_server_process
scim_server = server_plugin.scim_server

HR = {
    "key": "hr",
    "name": "HR",
    "kind": "disconnected",
    "approver_group": "crm-approvers",
    "fulfiller_group": "it-fulfillers",
}


def _attempt(action, tries: int = 20):
    """Run `action()` in a unit of work, retrying a lost race as a client retries a 409."""
    for attempt in range(tries):
        try:
            with unit_of_work():
                return action()
        except Conflict:
            pass
        except OperationalError as err:  # SQLite: another writer holds the file
            if "locked" not in str(err):
                raise
        db.session.remove()
        time.sleep(0.02 * (attempt + 1))
    raise AssertionError(f"{action} lost the race {tries} times")


def _as(username: str):
    """A user loaded in the calling thread's own session."""
    return user_by_username(username)


def _together(app, actions: dict):
    """Run each named action in its own thread, app context and session, released at once;
    returns {name: result}; an exception in a thread fails the test."""
    start = threading.Barrier(len(actions), timeout=30)
    results, errors = {}, {}

    def run(name, action):
        with app.app_context():
            try:
                db.session.remove()
                start.wait()
                results[name] = action()
            except Exception as err:  # reported below, in the test's thread
                errors[name] = err
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=item) for item in actions.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread hangs"
    assert errors == {}, errors
    return results


def _group_state(group_name: str):
    """(members, active group assignments as (user, app) pairs with their count, open items
    (user, app) with their count) of a group, read fresh."""
    db.session.rollback()
    db.session.expire_all()
    group = db.session.scalar(select(Group).where(Group.name == group_name))
    members = set(
        db.session.scalars(
            select(group_members.c.user_id).where(group_members.c.group_id == group.id)
        )
    )
    held = db.session.execute(
        select(Assignment.user_id, Assignment.application_id, func.count())
        .where(
            Assignment.source == "group",
            Assignment.source_id == group.id,
            Assignment.ended_at.is_(None),
        )
        .group_by(Assignment.user_id, Assignment.application_id)
    ).all()
    items = db.session.execute(
        select(RequestItem.beneficiary_id, RequestItem.application_id, func.count())
        .where(RequestItem.status.not_in(("cancelled", "rejected", "failed")))
        .group_by(RequestItem.beneficiary_id, RequestItem.application_id)
    ).all()
    return members, {(u, a): n for u, a, n in held}, {(u, a): n for u, a, n in items}


def _expect_granted(group_name: str, usernames, app_keys):
    members, held, items = _group_state(group_name)
    people = {user_by_username(name).id for name in usernames}
    apps = {application_by_key(key).id for key in app_keys}
    assert members == people  # nobody's membership lost
    wanted = {(u, a) for u in people for a in apps}
    assert held == dict.fromkeys(wanted, 1)  # every pair held once, nothing else
    assert {pair: items.get(pair) for pair in wanted} == dict.fromkeys(wanted, 1)  # one item each


def test_one_admin_adds_an_app_while_others_add_members(app, people):
    joiners = [f"j{i}" for i in range(4)]
    act(
        import_directory,
        {
            "users": [{"username": name, "email": f"{name}@example.com"} for name in joiners],
            "applications": [HR],
            "groups": [
                {"name": "sales", "members": ["bob"], "applications": [{"application": "crm"}]}
            ],
        },
    )
    actions = {
        "app": lambda: _attempt(lambda: groups.add_application(_as("root"), "sales", "hr") and True)
    }
    for name in joiners:
        actions[name] = lambda name=name: _attempt(
            lambda: groups.add_member(_as("root"), "sales", name)
        )

    outcomes = _together(app, actions)

    assert all(outcomes[name] is True for name in joiners)
    _expect_granted("sales", ["bob", *joiners], ["crm", "hr"])


def test_two_admins_add_the_same_member_once(app, people):
    act(
        import_directory,
        {
            "applications": [HR],
            "groups": [
                {
                    "name": "sales",
                    "members": [],
                    "applications": [{"application": "crm"}, {"application": "hr"}],
                }
            ],
        },
    )
    outcomes = _together(
        app,
        {
            admin: lambda admin=admin: _attempt(
                lambda: groups.add_member(_as(admin), "sales", "alice")
            )
            for admin in ("root", "mark")
        },
    )

    assert sorted(outcomes.values()) == [False, True]  # one joined her, the other saw her in
    _expect_granted("sales", ["alice"], ["crm", "hr"])


def test_the_worker_applies_a_queued_change_while_an_admin_adds_a_member(app, people):
    crowd = [f"p{i}" for i in range(60)]
    act(
        import_directory,
        {
            "users": [{"username": name, "email": f"{name}@example.com"} for name in crowd],
            "applications": [HR],
            "groups": [
                {"name": "sales", "members": crowd, "applications": [{"application": "hr"}]}
            ],
        },
    )
    act(changes.run_due, "worker-0")  # what the import queued (60 × hr)
    root = people["root"]
    act(groups.add_application, root, "sales", "crm")  # 60 pairs: queued for the worker

    outcomes = _together(
        app,
        {
            "worker": lambda: changes.run_due("worker-1"),
            "admin": lambda: _attempt(lambda: groups.add_member(_as("root"), "sales", "alice")),
        },
    )

    assert outcomes["admin"] is True
    assert act(changes.run_due, "worker-1") == 0  # nothing was left queued
    _expect_granted("sales", ["alice", *crowd], ["crm", "hr"])


def test_two_workers_apply_one_queued_change_once(app, people):
    crowd = [f"p{i}" for i in range(60)]
    act(
        import_directory,
        {
            "users": [{"username": name, "email": f"{name}@example.com"} for name in crowd],
            "groups": [{"name": "sales", "members": crowd}],
        },
    )
    act(groups.add_application, people["root"], "sales", "crm")

    outcomes = _together(
        app,
        {name: lambda name=name: changes.run_due(name) for name in ("worker-1", "worker-2")},
    )

    assert sorted(outcomes.values()) == [0, 1]
    _expect_granted("sales", crowd, ["crm"])


def test_a_leaver_while_their_group_account_is_being_created_ends_disabled(
    app, people, scim_server
):
    """bob joins a group granting wiki (auto-provisioned); while the worker's SCIM create is in
    flight, bob leaves. The create lands in the target after his items were cancelled: the
    worker takes that account back, so the target ends with one account, disabled."""
    with FaultProxy(scim_server) as proxy:
        connect_wiki(proxy.base_url)
        act(settings.change, "group_auto_provisioning", "all")
        act(
            import_directory,
            {
                "groups": [
                    {"name": "sales", "members": [], "applications": [{"application": "wiki"}]}
                ]
            },
        )
        act(groups.add_member, people["root"], "sales", "bob")
        in_flight, left = threading.Event(), threading.Event()

        def hold_the_create(method, path):
            if method == "POST" and path.endswith("/Users") and not in_flight.is_set():
                in_flight.set()
                left.wait(30)  # the answer comes back only once bob has left

        proxy.on_request = hold_the_create
        db.session.remove()

        def leave():
            assert in_flight.wait(30), "the worker never called the target"
            try:
                return _attempt(lambda: deactivate(_as("root"), "bob") is not None)
            finally:
                left.set()

        outcomes = _together(
            app,
            {"worker": lambda: Worker(app).run_until_idle(timeout=60), "leaver": leave},
        )
        assert outcomes["leaver"] is True
        Worker(app).run_until_idle(timeout=60)  # the take-back removal, if still due

        db.session.expire_all()
        bob = db.session.scalar(select(User).where(User.username == "bob"))
        [user] = scim_users(scim_server)  # one account: no duplicate
        assert (user["userName"], user["active"]) == ("bob", False)
        assert bob.active is False
        assert (
            db.session.scalars(
                select(Assignment).where(
                    Assignment.user_id == bob.id, Assignment.ended_at.is_(None)
                )
            ).all()
            == []
        )
        assert (
            db.session.scalars(
                select(Account).where(Account.user_id == bob.id, Account.ended_at.is_(None))
            ).all()
            == []
        )
