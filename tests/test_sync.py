"""Stories of sync: reading a connected application's accounts and reconciling them with who
should hold one, against a real scim2-server, on SQLite and PostgreSQL."""

from sqlalchemy import select

from engine.db import db
from engine.directory.lookup import application_by_key
from engine.models import Account, ProvisioningLog, RequestItem
from tests import scim_server as server_plugin
from tests.provisioning_support import FaultProxy, connect_wiki, scim_users
from tests.sync_support import (
    assign,
    report,
    sync,
    target_account,
    target_user,
)

scim_server_process = server_plugin.scim_server_process
scim_server = server_plugin.scim_server


def accounts_on_record(person):
    return db.session.scalars(
        select(Account).where(
            Account.user_id == person.id,
            Account.application_id == application_by_key("wiki").id,
            Account.ended_at.is_(None),
        )
    ).all()


def test_first_sync_links_accounts_repairs_drift_and_reports_a_ghost(app, people, scim_server):
    connect_wiki(scim_server)
    alice_id = target_account(
        scim_server, "alice", like=people["alice"], display_name="Alice Old-Name"
    )
    bob_id = target_account(scim_server, "bob", like=people["bob"])
    target_account(scim_server, "zed-ghost", display_name="Nobody Here")
    assign(people["alice"])
    assign(people["bob"])

    run = sync()

    assert run.status == "succeeded"
    counts = run.counts
    assert (counts["read"], counts["matched"], counts["linked"]) == (3, 2, 2)
    assert (counts["updated"], counts["orphans"], counts["created"]) == (1, 1, 0)
    assert target_user(scim_server, alice_id)["displayName"] == "Alice Archer"
    assert [a.external_id for a in accounts_on_record(people["alice"])] == [alice_id]
    assert [a.origin for a in accounts_on_record(people["bob"])] == ["linked"]
    assert sorted(report(run)) == sorted(
        [("link", "done", "alice"), ("link", "done", "bob"), ("update", "done", "alice"),
         ("orphan", "reported", "zed-ghost")]
    )  # fmt: skip
    assert bob_id and len(scim_users(scim_server)) == 3  # nothing created: never a duplicate


def test_a_second_run_with_nothing_to_change_writes_nothing_to_the_target(app, people, scim_server):
    with FaultProxy(scim_server) as proxy:
        connect_wiki(proxy.base_url)
        target_account(scim_server, "alice", like=people["alice"], display_name="Alice Old")
        assign(people["alice"])
        sync()
        proxy.requests.clear()

        run = sync()

    assert run.status == "succeeded"
    assert run.counts["updated"] == 0 and run.counts["linked"] == 0
    assert {method for method, _ in proxy.requests} == {"GET"}
    assert report(run) == []


def test_a_renamed_person_reaches_the_target_on_the_next_run(app, people, scim_server):
    connect_wiki(scim_server)
    alice_id = target_account(scim_server, "alice", like=people["alice"])
    assign(people["alice"])
    sync()

    alice = people["alice"]
    alice.display_name, alice.last_name = "Alice Baker", "Baker"
    db.session.commit()
    run = sync()

    assert run.counts["updated"] == 1
    changed = target_user(scim_server, alice_id)
    assert changed["displayName"] == "Alice Baker"
    assert changed["name"]["familyName"] == "Baker"
    [line] = [r for r in report(run) if r[0] == "update"]
    assert line == ("update", "done", "alice")
    log = db.session.scalars(
        select(ProvisioningLog).where(ProvisioningLog.operation == "sync_update")
    ).all()
    assert [(entry.external_id, entry.outcome) for entry in log][-1] == (alice_id, "updated")


def test_an_assigned_person_without_an_account_is_provisioned_through_the_usual_path(
    app, people, scim_server
):
    from api.worker import Worker

    connect_wiki(scim_server)
    assign(people["bob"])

    run = sync()

    assert run.counts["created"] == 1
    item = db.session.scalar(select(RequestItem).where(RequestItem.origin == "sync"))
    assert item.beneficiary.username == "bob" and item.account_mode == "create"
    db.session.rollback()
    Worker(app).run_until_idle(timeout=30)
    assert [u["userName"] for u in scim_users(scim_server)] == ["bob"]
    again = sync()
    assert again.counts["created"] == 0 and again.counts["matched"] == 1
