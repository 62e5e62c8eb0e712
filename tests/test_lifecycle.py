"""Stories of access over its life: joiners, movers and leavers, group grants, single sign-on.

Connected applications run against a real SCIM server (scim2-server); each story checks the
target's own state, not only accessflow's rows."""

import pytest
from sqlalchemy import select

from api.worker import Worker
from engine import settings
from engine.access import assignments, changes, groups
from engine.access.people import deactivate, reactivate, set_manager
from engine.db import db
from engine.directory.importer import import_directory
from engine.directory.lookup import application_by_key
from engine.models import (
    AccessChange,
    Account,
    ApiToken,
    Application,
    Assignment,
    Group,
    HumanTask,
    RequestItem,
)
from tests import scim_server as server_plugin
from tests.flow import act, decide, open_task, submit
from tests.provisioning_support import connect_wiki, scim_users

scim_server_process = server_plugin.scim_server_process
scim_server = server_plugin.scim_server


def new_group(name="sales", *apps):
    with_apps = [{"application": key} for key in apps]
    act(import_directory, {"groups": [{"name": name, "members": [], "applications": with_apps}]})
    return db.session.scalar(select(Group).where(Group.name == name))


def items_for(person, app_key):
    app = application_by_key(app_key)
    return db.session.scalars(
        select(RequestItem)
        .where(RequestItem.beneficiary_id == person.id, RequestItem.application_id == app.id)
        .order_by(RequestItem.created_at)
    ).all()


def active_accounts(person, app_key):
    app = application_by_key(app_key)
    return db.session.scalars(
        select(Account).where(
            Account.user_id == person.id,
            Account.application_id == app.id,
            Account.ended_at.is_(None),
        )
    ).all()


def run_worker(app):
    db.session.rollback()
    Worker(app).run_until_idle(timeout=30)
    db.session.rollback()
    db.session.expire_all()


def test_joining_a_group_hands_a_disconnected_app_to_the_fulfillers_without_approval(people):
    root, alice, fred = people["root"], people["alice"], people["fred"]
    new_group("sales", "crm")

    assert act(groups.add_member, root, "sales", "alice") is True

    [item] = items_for(alice, "crm")
    assert (item.origin, item.kind, item.status) == ("group", "grant", "pending_fulfillment")
    task = open_task(item)
    assert (task.title, task.lane) == ("Set up the account", "Fulfiller")
    decide(fred, item, account_id="CRM-77")
    assert item.status == "fulfilled"
    [account] = active_accounts(alice, "crm")
    assert (account.external_id, account.origin) == ("CRM-77", "recorded")
    [held] = assignments.active(alice.id)
    assert (held.source, held.group.name, held.created_by_id) == ("group", "sales", root.id)


def test_a_group_grant_never_gives_a_second_account_to_someone_who_has_one(people):
    alice = people["alice"]
    db.session.add(
        Account(user_id=alice.id, application_id=application_by_key("crm").id, external_id="c1")
    )
    db.session.commit()
    new_group("sales", "crm")

    act(groups.add_member, people["root"], "sales", "alice")

    assert items_for(alice, "crm") == []
    assert [a.source for a in assignments.active(alice.id)] == ["group"]
    assert [a.external_id for a in active_accounts(alice, "crm")] == ["c1"]


def test_connected_app_with_auto_provisioning_creates_the_account_in_the_target(
    app, people, scim_server
):
    connect_wiki(scim_server)
    application_by_key("wiki").group_auto_provisioning = True
    db.session.commit()
    new_group("sales", "wiki")

    act(groups.add_member, people["root"], "sales", "bob")
    [item] = items_for(people["bob"], "wiki")
    assert item.status == "provisioning"
    run_worker(app)

    assert item.status == "fulfilled"
    [user] = scim_users(scim_server)
    assert (user["userName"], user["active"]) == ("bob", True)
    [account] = active_accounts(people["bob"], "wiki")
    assert (account.external_id, account.origin) == (user["id"], "provisioned")


def test_connected_app_without_auto_provisioning_asks_a_person_to_set_it_up(app, people):
    new_group("sales", "wiki")
    act(groups.add_member, people["root"], "sales", "bob")

    [item] = items_for(people["bob"], "wiki")
    assert open_task(item).title == "Set up the account"


def test_the_global_setting_provisions_every_app_automatically(app, people, scim_server):
    connect_wiki(scim_server)
    act(settings.change, "group_auto_provisioning", "all")
    new_group("sales", "wiki")

    act(groups.add_member, people["root"], "sales", "bob")
    run_worker(app)

    assert [u["userName"] for u in scim_users(scim_server)] == ["bob"]


def test_leaving_the_group_removes_the_account_in_the_target(app, people, scim_server):
    connect_wiki(scim_server)
    act(settings.change, "group_auto_provisioning", "all")
    new_group("sales", "wiki")
    act(groups.add_member, people["root"], "sales", "bob")
    run_worker(app)

    act(groups.remove_member, people["root"], "sales", "bob", "moved to support")
    [_, removal] = items_for(people["bob"], "wiki")
    assert (removal.origin, removal.kind) == ("group", "remove")
    run_worker(app)

    assert removal.status == "fulfilled"
    [user] = scim_users(scim_server)
    assert user["active"] is False  # disabled: this connector does not hard-delete by default
    assert active_accounts(people["bob"], "wiki") == []
    [ended] = db.session.scalars(select(Assignment).where(Assignment.user_id == people["bob"].id))
    assert ended.ended_by_id == people["root"].id and "moved to support" in ended.ended_reason


def test_another_source_keeps_the_access_when_a_group_stops_granting_it(people):
    alice, root = people["alice"], people["root"]
    new_group("sales", "crm")
    new_group("marketing", "crm")
    act(groups.add_member, root, "sales", "alice")
    decide(people["fred"], items_for(alice, "crm")[0], account_id="CRM-1")
    act(groups.add_member, root, "marketing", "alice")

    act(groups.remove_application, root, "sales", "crm")

    assert len(items_for(alice, "crm")) == 1  # no removal: marketing still grants it
    assert [a.group.name for a in assignments.active(alice.id)] == ["marketing"]
    assert len(active_accounts(alice, "crm")) == 1


def test_disconnected_removal_goes_to_the_fulfillers(people):
    alice, root = people["alice"], people["root"]
    new_group("sales", "crm")
    act(groups.add_member, root, "sales", "alice")
    decide(people["fred"], items_for(alice, "crm")[0], account_id="CRM-1")

    act(groups.remove_member, root, "sales", "alice")

    removal = items_for(alice, "crm")[-1]
    assert open_task(removal).title == "Remove the account"
    decide(people["fiona"], removal)
    assert removal.status == "fulfilled" and active_accounts(alice, "crm") == []


def test_a_leaver_loses_access_items_claims_and_pending_approvals(app, people, scim_server):
    connect_wiki(scim_server)
    root, bob, alice = people["root"], people["bob"], people["alice"]
    act(settings.change, "group_auto_provisioning", "all")
    new_group("sales", "wiki")
    act(groups.add_member, root, "sales", "bob")
    run_worker(app)
    open_item = submit(bob, ("crm", "bob")).items[0]  # bob's own request, still waiting
    alice_item = submit(alice, ("crm", "alice")).items[0]  # waits on mark, who leaves below
    token = ApiToken(user_id=bob.id, token_hash="x" * 64)
    db.session.add(token)
    db.session.commit()

    act(deactivate, root, "bob", "contract ended")
    act(deactivate, root, "mark", "retired")

    assert bob.active is False and open_item.status == "cancelled"
    assert token.revoked_at is not None and bob.groups == []
    assert assignments.active(bob.id) == []
    removal = items_for(bob, "wiki")[-1]
    assert (removal.origin, removal.kind) == ("leaver", "remove")
    run_worker(app)
    assert removal.status == "fulfilled"
    assert [u["active"] for u in scim_users(scim_server)] == [False]
    # Mark's approval went to the fallback: alice's manager's manager is nobody, so admins.
    task = open_task(alice_item)
    assert task.candidate_user_id is None
    assert task.candidate_group_id == db.session.scalar(
        select(Group.id).where(Group.name == "admins")
    )


def test_reactivating_a_leaver_restores_nothing_by_itself(people):
    alice, root = people["alice"], people["root"]
    new_group("sales", "crm")
    act(groups.add_member, root, "sales", "alice")
    act(deactivate, root, "alice")

    act(reactivate, root, "alice")

    assert alice.active is True and alice.groups == [] and assignments.active(alice.id) == []


def test_a_new_manager_takes_over_the_open_manager_approval(people):
    alice, root = people["alice"], people["root"]
    item = submit(alice, ("crm", "alice")).items[0]
    assert open_task(item).candidate_user_id == people["mark"].id

    act(set_manager, root, "alice", "stan")

    assert open_task(item).candidate_user_id == people["stan"].id
    decide(people["stan"], item)
    assert open_task(item).lane == "ApproverGroup"


def test_a_manager_who_cannot_decide_hands_over_to_their_own_manager(people):
    root = people["root"]
    act(set_manager, root, "alice", "bob")
    item = submit(bob := people["bob"], ("crm", "alice")).items[0]  # bob asks for his report

    assert bob.id == item.requester_id
    assert open_task(item).candidate_user_id == people["mark"].id  # bob's manager


def test_an_sso_app_is_fulfilled_by_its_approvals_and_the_assignment_is_the_access(people):
    act(
        import_directory,
        {
            "applications": [
                {
                    "key": "portal",
                    "name": "Portal",
                    "kind": "sso",
                    "approver_group": "crm-approvers",
                }
            ]
        },
    )
    item = submit(people["alice"], ("portal", "alice")).items[0]
    decide(people["mark"], item)
    decide(people["gina"], item)

    assert item.status == "fulfilled"
    assert db.session.scalars(select(HumanTask).where(HumanTask.kind == "fulfillment")).all() == []
    [held] = assignments.active(people["alice"].id)
    assert (held.application.key, held.source, held.item_id) == ("portal", "request", item.id)
    assert active_accounts(people["alice"], "portal") == []


def test_the_import_drives_the_same_lifecycle(people):
    act(
        import_directory,
        {
            "settings": {"group_auto_provisioning": "per_application"},
            "users": [{"username": "carol", "email": "c@example.com", "department": "Sales"}],
            "groups": [
                {"name": "sales", "members": ["carol"], "applications": [{"application": "crm"}]}
            ],
        },
    )
    carol = people["carol"]
    assert carol.department == "Sales"
    [item] = items_for(carol, "crm")
    assert item.origin == "group"

    act(import_directory, {"users": [{"username": "carol", "active": False}]})

    assert carol.active is False and item.status == "cancelled"
    assert assignments.active(carol.id) == []


def test_a_big_group_change_is_left_to_the_worker_and_applied_once(app, people):
    root = people["root"]
    users = [{"username": f"p{i}", "email": f"p{i}@example.com"} for i in range(60)]
    act(import_directory, {"users": users})
    new_group("sales")
    act(
        import_directory, {"groups": [{"name": "sales", "members": [u["username"] for u in users]}]}
    )

    act(groups.add_application, root, "sales", "crm")

    [change] = db.session.scalars(select(AccessChange)).all()
    assert change.status == "queued"
    assert db.session.scalars(select(RequestItem)).all() == []
    db.session.rollback()
    assert act(changes.run_due, "worker-1") == 1
    db.session.expire_all()
    assert change.status == "done" and change.counts == {
        "assigned": 60,
        "unassigned": 0,
        "items": 60,
    }
    assert act(changes.run_due, "worker-1") == 0
    assert len(db.session.scalars(select(RequestItem)).all()) == 60


def test_the_worker_applies_a_queued_change_and_is_silent_when_idle(app, people, caplog):
    users = [{"username": f"p{i}", "email": f"p{i}@example.com"} for i in range(60)]
    act(
        import_directory,
        {"users": users, "groups": [{"name": "sales", "members": [u["username"] for u in users]}]},
    )
    act(groups.add_application, people["root"], "sales", "crm")
    [change] = db.session.scalars(select(AccessChange)).all()
    assert change.status == "queued"
    db.session.rollback()

    with caplog.at_level("INFO", logger="engine.access.changes"):
        Worker(app).run_until_idle(timeout=30)
    db.session.expire_all()

    assert change.status == "done" and change.counts["items"] == 60
    assert len(db.session.scalars(select(RequestItem)).all()) == 60
    applied = [r for r in caplog.records if r.name == "engine.access.changes"]
    assert len(applied) == 1 and "sales" in applied[0].getMessage()
    caplog.clear()
    with caplog.at_level("INFO"):
        Worker(app).run_until_idle(timeout=30)
    assert [r for r in caplog.records if r.levelname == "INFO"] == []


def test_a_cart_request_becomes_an_assignment_and_its_removal_ends_it(people):
    alice = people["alice"]
    item = submit(alice, ("crm", "alice")).items[0]
    decide(people["mark"], item)
    decide(people["gina"], item)
    decide(people["fred"], item, account_id="CRM-9")

    [held] = assignments.active(alice.id)
    assert (held.source, held.item_id) == ("request", item.id)

    from engine.requests import cart

    with_removal = act(
        lambda: (cart.add_to_cart(alice, "crm", "alice", "remove"), cart.submit_cart(alice))[1]
    )
    removal = with_removal.items[0]
    decide(people["mark"], removal)
    decide(people["gina"], removal)
    decide(people["fred"], removal)

    assert assignments.active(alice.id) == []
    assert held.ended_at is not None and held.ended_by_id == alice.id


@pytest.mark.parametrize("role", ["editor", None])
def test_group_grants_carry_the_role(people, role):
    act(
        import_directory,
        {
            "applications": [
                {
                    "key": "crm",
                    "name": "CRM",
                    "kind": "disconnected",
                    "approver_group": "crm-approvers",
                    "fulfiller_group": "it-fulfillers",
                    "roles": [{"key": "editor", "name": "Editor"}],
                }
            ]
        },
    )
    new_group("sales")
    act(groups.add_application, people["root"], "sales", "crm", role)
    act(groups.add_member, people["root"], "sales", "alice")

    [held] = assignments.active(people["alice"].id)
    assert held.role == role
    assert items_for(people["alice"], "crm")[0].role == role
    assert isinstance(application_by_key("crm"), Application)


def test_an_admin_assigns_people_and_ending_the_last_assignment_removes_the_access(people):
    from engine.access import grants, holdings

    root, alice = people["root"], people["alice"]
    [made] = act(grants.assign_users, root, "crm", ["alice"], reason="project X")
    [item] = items_for(alice, "crm")
    assert (item.origin, made.source, made.reason) == ("admin", "admin", "project X")
    decide(people["fred"], item, account_id="CRM-5")
    [entry] = holdings.access_of(alice)
    assert entry["accounts"] == [{"external_id": "CRM-5", "status": "active", "origin": "recorded"}]

    act(grants.unassign, root, made.id, "project over")

    removal = items_for(alice, "crm")[-1]
    assert (removal.origin, removal.kind) == ("admin", "remove")
    assert holdings.access_of(alice) == []


def test_an_item_no_cart_asked_for_has_a_page_and_an_api_answer(app, people):
    import re

    from flask import g

    new_group("sales", "crm")
    act(groups.add_member, people["root"], "sales", "alice")
    [item] = items_for(people["alice"], "crm")
    client = app.test_client()
    page = client.get("/login")
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
    login = {"username": "alice", "password": "alice-pw", "csrf_token": token}
    assert client.post("/login", data=login).status_code == 302
    g.pop("csrf_token", None)

    page = client.get(f"/items/{item.id}")

    assert page.status_code == 200 and "group change" in page.text
