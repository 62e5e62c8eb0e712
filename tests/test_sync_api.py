"""Sync through its entry points: the admin API, `accessflow app sync`, `accessflow worker`."""

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from api.worker import Worker
from engine.db import db
from engine.directory.lookup import application_by_key
from engine.models import AuditEvent, SyncRun
from tests import scim_server as server_plugin
from tests.api_client import api  # noqa: F401
from tests.provisioning_support import connect_wiki, smtp_inbox  # noqa: F401
from tests.scim_server import free_port
from tests.sync_support import assign, target_account, target_user, unassign

scim_server_process = server_plugin.scim_server_process
scim_server = server_plugin.scim_server
ACCESSFLOW = str(Path(sys.executable).with_name("accessflow"))
RUNS = "/api/v1/admin/applications/wiki/sync-runs"


def test_an_admin_asks_for_a_sync_a_worker_runs_it_and_the_api_shows_its_report(
    app,
    people,
    scim_server,
    api,  # noqa: F811
):
    connect_wiki(scim_server)
    alice_id = target_account(scim_server, "alice", like=people["alice"], display_name="Old")
    target_account(scim_server, "zed-ghost")
    assign(people["alice"])
    root = api["root"]

    answer = root.post("/api/v1/admin/applications/wiki/sync", {"dry_run": False})
    assert answer.status_code == 202
    started = answer.get_json()
    assert started["status"] == "queued"
    again = root.post("/api/v1/admin/applications/wiki/sync", {"dry_run": False})
    assert again.status_code == 409  # one run in flight per application
    db.session.rollback()
    assert Worker(app).run_syncs() >= 1

    run = root.get(f"{RUNS}/{started['id']}").get_json()
    assert run["status"] == "succeeded" and run["trigger"] == "manual"
    assert run["started_at"] <= run["finished_at"]
    assert run["counts"]["orphans"] == 1 and run["counts"]["updated"] == 1
    lines = {(line["action"], line["status"], line["user_name"]) for line in run["report"]}
    assert {("orphan", "reported", "zed-ghost"), ("update", "done", "alice")} <= lines
    assert all(line["log_id"] for line in run["report"] if line["status"] == "done")
    assert [r["id"] for r in root.get(RUNS).get_json()["items"]] == [started["id"]]
    assert target_user(scim_server, alice_id)["displayName"] == "Alice Archer"
    accounts = root.get("/api/v1/admin/applications/wiki/accounts").get_json()["items"]
    assert [(a["external_id"] is not None, a["orphan"]) for a in accounts if a["orphan"]] == [
        (True, True)
    ]
    shown = root.get("/api/v1/admin/applications/wiki").get_json()["sync"]
    assert shown["sync_interval"] == "PT40M" and shown["last_run"]["id"] == started["id"]


def test_sync_calls_are_refused_to_non_admins_and_bad_input_is_a_422(
    app,
    people,
    scim_server,
    api,  # noqa: F811
):
    connect_wiki(scim_server)
    alice = api["alice"]
    assert alice.post("/api/v1/admin/applications/wiki/sync", {}).status_code == 403
    assert alice.get(RUNS).status_code == 403
    root = api["root"]
    answer = root.post("/api/v1/admin/applications/wiki/sync", {"dry_run": "yes"})
    assert answer.status_code == 422
    assert answer.content_type == "application/problem+json"
    assert root.post("/api/v1/admin/applications/crm/sync", {}).status_code == 422
    assert root.post("/api/v1/admin/applications/nope/sync", {}).status_code == 404
    missing = "00000000-0000-0000-0000-000000000000"
    assert root.get(f"{RUNS}/{missing}").status_code == 404
    bad = root.call("PATCH", "/api/v1/admin/applications/wiki",
                    json={"scoping_filter": "department like 'x'"})  # fmt: skip
    assert bad.status_code == 422 and "scoping filter" in bad.get_json()["detail"]
    assert db.session.scalar(select(SyncRun.id)) is None


def test_an_admin_sets_sync_settings_and_allows_a_run_the_threshold_stopped(
    app,
    people,
    scim_server,
    api,  # noqa: F811
):
    connect_wiki(scim_server)
    root = api["root"]
    settings = {
        "deletion_threshold": {"count": 0, "percent": 100},
        "orphan_policy": "report",
        "sync_interval": "PT10M",
        "scoping_filter": 'department ne "Contractors"',
    }
    assert root.call("PATCH", "/api/v1/admin/applications/wiki", json=settings).status_code == 200
    shown = root.get("/api/v1/admin/applications/wiki").get_json()["sync"]
    assert shown["deletion_threshold"] == {"count": 0, "percent": 100}
    assert shown["sync_interval"] == "PT10M"
    bob_id = target_account(scim_server, "bob", like=people["bob"])
    assign(people["bob"])
    root.post("/api/v1/admin/applications/wiki/sync", {})
    db.session.rollback()
    Worker(app).run_syncs()
    unassign(people["bob"])
    run_id = root.post("/api/v1/admin/applications/wiki/sync", {}).get_json()["id"]
    db.session.rollback()
    Worker(app).run_syncs()

    assert root.get(f"{RUNS}/{run_id}").get_json()["status"] == "waiting_approval"
    assert target_user(scim_server, bob_id)["active"] is True
    allowed = root.post(f"{RUNS}/{run_id}/allow", {"comment": "bob left"})
    assert allowed.status_code == 200 and allowed.get_json()["status"] == "queued"
    assert root.post(f"{RUNS}/{run_id}/allow", {}).status_code == 409
    db.session.rollback()
    Worker(app).run_syncs()
    assert root.get(f"{RUNS}/{run_id}").get_json()["status"] == "succeeded"
    assert target_user(scim_server, bob_id)["active"] is False
    audit = db.session.scalar(select(AuditEvent).where(AuditEvent.event == "sync_allowed"))
    assert audit.actor_id == people["root"].id and audit.comment == "bob left"


def test_the_worker_runs_the_initial_sync_then_waits_for_the_interval(app, people, scim_server):
    connect_wiki(scim_server)
    target_account(scim_server, "alice", like=people["alice"])
    assign(people["alice"])
    worker = Worker(app)

    assert worker.run_syncs() == 1
    assert worker.run_syncs() == 0  # the next one is due in 40 minutes

    run = db.session.scalar(select(SyncRun))
    assert (run.trigger, run.status, run.counts["linked"]) == ("scheduled", "succeeded", 1)
    assert application_by_key("wiki").next_sync_at is not None


def test_a_failed_run_mails_the_application_s_notification_address(
    app,
    people,
    smtp_inbox,  # noqa: F811
):
    inbox, port = smtp_inbox
    app.config.update(SMTP_PORT=port, MAIL_FROM="accessflow@example.com")
    connect_wiki(f"http://127.0.0.1:{free_port()}/v2")

    Worker(app).run_syncs()

    run = db.session.scalar(select(SyncRun))
    assert run.status == "failed" and "connection failed" in run.error
    [mail] = inbox.wait_for(1)
    assert mail["X-Envelope-To"] == "it@example.com" and "Sync of Wiki failed" in mail["Subject"]
    assert "test-scim-token" not in mail.get_payload()


def test_app_sync_on_the_command_line_prints_its_counts(app, people, scim_server, database_url):
    connect_wiki(scim_server)
    alice_id = target_account(scim_server, "alice", like=people["alice"], display_name="Old")
    assign(people["alice"])
    env = {**os.environ, "DATABASE_URL": database_url}

    def cli(*args):
        return subprocess.run([ACCESSFLOW, "app", "sync", *args], env=env, capture_output=True,
                              text=True, timeout=120)  # fmt: skip

    dry = cli("wiki", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "succeeded (dry run)" in dry.stdout and "updated: 1" in dry.stdout
    assert target_user(scim_server, alice_id)["displayName"] == "Old"
    done = cli("wiki")
    assert done.returncode == 0 and "linked: 1" in done.stdout
    assert target_user(scim_server, alice_id)["displayName"] == "Alice Archer"
    unknown = cli("nope")
    assert unknown.returncode != 0 and "nope" in unknown.stderr


def test_the_directory_file_stores_an_application_s_sync_settings(app, people):
    import copy

    import pytest

    from engine.directory.importer import import_directory
    from engine.errors import Invalid
    from tests.conftest import DIRECTORY
    from tests.flow import act

    directory = copy.deepcopy(DIRECTORY)
    wiki = directory["applications"][1]
    wiki.update(sync_interval="PT15M", provisioning_enabled=False, orphan_policy="disable",
                deletion_threshold={"count": 5, "percent": 2.5},
                scoping_filter='department eq "Sales" or title sw "Rep"')  # fmt: skip
    act(import_directory, directory)
    stored = application_by_key("wiki")
    assert stored.sync_interval == "PT15M"
    assert stored.sync_settings == {
        "provisioning_enabled": False,
        "orphan_policy": "disable",
        "deletion_threshold": {"count": 5, "percent": 2.5},
        "scoping_filter": 'department eq "Sales" or title sw "Rep"',
    }

    wiki.update(scoping_filter="department eq Sales")
    with pytest.raises(Invalid) as refused:
        act(import_directory, directory)
    assert "applications[1] (wiki)" in refused.value.detail
    assert "scoping_filter" in refused.value.detail
    del wiki["scoping_filter"], wiki["orphan_policy"]
    act(import_directory, directory)  # the file is the truth: what it leaves out is the default
    assert "orphan_policy" not in application_by_key("wiki").sync_settings
