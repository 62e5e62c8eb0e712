"""Stories of sync: reading a connected application's accounts and reconciling them with who
should hold one, against a real scim2-server, on SQLite and PostgreSQL."""

from sqlalchemy import select, update

from engine.db import db, utcnow
from engine.directory.lookup import application_by_key
from engine.models import Account, ProvisioningLog, RequestItem, SyncOperation, SyncRun
from engine.sync import runner, runs
from engine.unit_of_work import unit_of_work
from tests import scim_server as server_plugin
from tests.flow import act
from tests.provisioning_support import FaultProxy, connect_wiki, scim_users
from tests.sync_support import (
    assign,
    report,
    sync,
    sync_settings,
    target_account,
    target_user,
    unassign,
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


def test_a_leaver_is_disabled_and_an_unassigned_account_only_reported(app, people, scim_server):
    connect_wiki(scim_server)
    bob_id = target_account(scim_server, "bob", like=people["bob"])
    fred_id = target_account(scim_server, "fred", like=people["fred"])
    assign(people["bob"])
    sync()
    unassign(people["bob"])

    run = sync()

    assert target_user(scim_server, bob_id)["active"] is False
    assert target_user(scim_server, fred_id)["active"] is True  # policy: report only
    assert (run.counts["disabled"], run.counts["unassigned"]) == (1, 1)
    assert ("delete", "done", "bob") in report(run)
    assert ("unassigned", "reported", "fred") in report(run)
    assert accounts_on_record(people["bob"]) == []  # the row is ended, kept


def test_the_disable_policy_disables_orphans_and_unassigned_accounts(app, people, scim_server):
    connect_wiki(scim_server)
    sync_settings(orphan_policy="disable")
    ghost = target_account(scim_server, "zed-ghost")
    fred_id = target_account(scim_server, "fred", like=people["fred"])

    run = sync()

    assert run.counts["disabled"] == 2
    assert target_user(scim_server, ghost)["active"] is False
    assert target_user(scim_server, fred_id)["active"] is False


def test_an_account_that_should_be_active_is_enabled_again(app, people, scim_server):
    connect_wiki(scim_server)
    alice_id = target_account(scim_server, "alice", like=people["alice"], active=False)
    assign(people["alice"])

    run = sync()

    assert run.counts["enabled"] == 1
    assert target_user(scim_server, alice_id)["active"] is True


def test_the_deletion_threshold_stops_a_run_until_an_admin_allows_it(app, people, scim_server):
    connect_wiki(scim_server)
    names = ["alice", "bob", "gina", "fred", "fiona", "stan"]
    ids = {name: target_account(scim_server, name, like=people[name]) for name in names}
    for name in names:
        assign(people[name])
    sync()
    for name in names:
        unassign(people[name])

    run = sync()

    assert run.status == "waiting_approval" and run.counts["disabled"] == 6
    assert all(target_user(scim_server, i)["active"] for i in ids.values())
    act(runs.allow_run, people["root"], "wiki", run.id, "a reorganisation")
    assert runner.run_due("worker-2") == run.id
    db.session.expire_all()
    done = runs.find_run("wiki", run.id)
    assert done.status == "succeeded" and done.allowed_by_id == people["root"].id
    assert not any(target_user(scim_server, i)["active"] for i in ids.values())


def test_a_dry_run_reports_what_it_would_do_and_changes_nothing(app, people, scim_server):
    with FaultProxy(scim_server) as proxy:
        connect_wiki(proxy.base_url)
        alice_id = target_account(scim_server, "alice", like=people["alice"], display_name="Old")
        target_account(scim_server, "zed-ghost")
        assign(people["alice"])
        assign(people["bob"])
        sync_settings(orphan_policy="disable")

        run = sync(dry_run=True)

    assert run.status == "succeeded" and run.dry_run
    assert {method for method, _ in proxy.requests} == {"GET"}
    assert target_user(scim_server, alice_id)["displayName"] == "Old"
    assert accounts_on_record(people["alice"]) == []
    assert db.session.scalar(select(RequestItem).where(RequestItem.origin == "sync")) is None
    lines = report(run)
    assert ("link", "would", "alice") in lines and ("update", "would", "alice") in lines
    assert ("disable", "would", "zed-ghost") in lines and ("provision", "would", "bob") in lines


def test_provisioning_off_reads_and_reports_only(app, people, scim_server):
    connect_wiki(scim_server)
    alice_id = target_account(scim_server, "alice", like=people["alice"], display_name="Old")
    assign(people["alice"])
    sync_settings(provisioning_enabled=False)

    run = sync()

    assert run.counts["updated"] == 1 and ("update", "would", "alice") in report(run)
    assert target_user(scim_server, alice_id)["displayName"] == "Old"


def test_scoping_provisions_people_in_scope_and_disables_those_who_leave_it(
    app, people, scim_server
):
    connect_wiki(scim_server)
    sync_settings(scoping_filter='department eq "Sales"')
    bob_id = target_account(scim_server, "bob", like=people["bob"])
    for name in ("alice", "bob", "stan"):
        assign(people[name])
    people["alice"].department = "Sales"
    db.session.commit()

    run = sync()

    provisioned = db.session.scalars(select(RequestItem).where(RequestItem.origin == "sync"))
    assert [item.beneficiary.username for item in provisioned] == ["alice"]  # not stan
    assert target_user(scim_server, bob_id)["active"] is False  # bob is not in Sales
    assert ("disable", "done", "bob") in report(run)


def test_a_person_missing_a_mandatory_attribute_is_reported_and_skipped(app, people, scim_server):
    connect_wiki(scim_server, required_attributes=["department"])
    assign(people["bob"])

    run = sync()

    assert run.counts["skipped"] == 1 and run.counts["created"] == 0
    [line] = [r for r in db.session.scalars(select(SyncOperation)) if r.action == "skip"]
    assert line.user_name == "bob" and "department" in line.reason
    assert db.session.scalar(select(RequestItem).where(RequestItem.origin == "sync")) is None


def test_a_run_whose_worker_died_is_resumed_from_its_cursor_without_a_duplicate(
    app, people, scim_server
):
    connect_wiki(scim_server)
    names = ["alice", "bob", "gina", "fred", "fiona"]
    for name in names:
        old_email = [{"value": f"old-{name}@example.com", "primary": True}]
        target_account(scim_server, name, like=people[name], emails=old_email)
        assign(people[name])
    with unit_of_work():
        run = runs.request_sync(None, "wiki")
    with unit_of_work():
        runs.take_run("worker-1", run.id)
    # worker-1 judges two pages of two accounts, then dies (its lease is left to expire)
    assert runner.carry_out(run.id, "worker-1", page_size=2, stop_after_pages=2) == "interrupted"
    db.session.execute(
        update(SyncRun).where(SyncRun.id == run.id).values(lease_expires_at=utcnow())
    )
    db.session.commit()

    assert runner.run_due("worker-2") == run.id

    db.session.expire_all()
    done = runs.find_run("wiki", run.id)
    assert done.status == "succeeded"
    assert (done.counts["read"], done.counts["linked"], done.counts["updated"]) == (5, 5, 5)
    lines = report(done)
    assert sorted(lines) == sorted(
        [("link", "done", n) for n in names] + [("update", "done", n) for n in names]
    )
    updates = db.session.scalars(
        select(ProvisioningLog.external_id).where(ProvisioningLog.operation == "sync_update")
    ).all()
    assert len(updates) == len(set(updates)) == 5


def test_two_workers_never_run_the_same_application_at_once(app, people, scim_server):
    from tests.test_lifecycle_concurrency import _together

    connect_wiki(scim_server)
    target_account(scim_server, "alice", like=people["alice"])
    assign(people["alice"])
    db.session.commit()

    taken = _together(app, {w: (lambda w=w: runner.run_due(w)) for w in ("w1", "w2", "w3")})

    db.session.expire_all()
    [run] = db.session.scalars(select(SyncRun)).all()
    assert sorted(str(v) for v in taken.values()) == sorted([run.id, "None", "None"])
    assert run.status == "succeeded" and run.counts["linked"] == 1
    assert len(accounts_on_record(people["alice"])) == 1


def test_a_user_name_matches_whatever_its_case_in_the_target(app, people, scim_server):
    connect_wiki(scim_server)
    target_account(scim_server, "ALICE", like=people["alice"])
    assign(people["alice"])

    run = sync()

    assert (run.counts["matched"], run.counts["linked"], run.counts["orphans"]) == (1, 1, 0)
    assert run.counts["created"] == 0
