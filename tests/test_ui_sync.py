"""The synchronization card of a connected application's admin page (server-rendered pages)."""

import re

import pytest
from flask import g

from api.worker import Worker
from engine.db import db
from engine.directory.importer import import_directory
from engine.directory.lookup import application_by_key
from engine.sync import runner
from tests import scim_server as server_plugin
from tests.provisioning_support import connect_wiki
from tests.sync_support import assign, target_account, target_user

scim_server_process = server_plugin.scim_server_process
scim_server = server_plugin.scim_server


@pytest.fixture
def admin(app, people):
    import_directory({"users": [{"username": "root", "password": "root-pw"}]})
    db.session.commit()
    client = app.test_client()
    token = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/login").text).group(1)
    client.post("/login", data={"username": "root", "password": "root-pw", "csrf_token": token})
    g.pop("csrf_token", None)  # the fixture's app context outlives requests
    return client


def token_of(page) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)


def test_an_admin_dry_runs_then_syncs_from_the_page_and_reads_the_report(
    app, people, admin, scim_server
):
    connect_wiki(scim_server)
    alice_id = target_account(scim_server, "alice", like=people["alice"], display_name="Old")
    target_account(scim_server, "zed-ghost")
    assign(people["alice"])
    page = admin.get("/admin/applications/wiki")
    assert "Synchronization" in page.text and "initial full sync" in page.text

    answer = admin.post("/admin/applications/wiki/sync",
                        data={"csrf_token": token_of(page), "dry_run": "1"})  # fmt: skip
    assert answer.status_code == 303
    db.session.rollback()
    runner.run_due("worker-1")  # the queued dry run only (the initial sync is due too)
    page = admin.get("/admin/applications/wiki")
    assert "(dry run)" in page.text and "orphans 1" in page.text
    assert target_user(scim_server, alice_id)["displayName"] == "Old"

    admin.post("/admin/applications/wiki/sync", data={"csrf_token": token_of(page)})
    db.session.rollback()
    Worker(app).run_syncs()
    page = admin.get("/admin/applications/wiki")
    report_url = re.search(r'href="(/admin/applications/wiki/sync-runs/[^"]+)"', page.text)
    report = admin.get(report_url.group(1))
    assert report.status_code == 200
    assert "zed-ghost" in report.text and "no person matches the account" in report.text
    assert "displayName" not in report.text and "Old → Alice Archer" in report.text
    assert target_user(scim_server, alice_id)["displayName"] == "Alice Archer"


def test_sync_settings_are_saved_from_the_page_and_a_bad_filter_is_named(app, admin):
    page = admin.get("/admin/applications/wiki")
    form = {"csrf_token": token_of(page), "sync_interval": "PT20M", "orphan_policy": "disable",
            "threshold_count": "3", "threshold_percent": "5",
            "scoping_filter": 'department eq "Sales"'}  # fmt: skip
    assert admin.post("/admin/applications/wiki/sync-settings", data=form).status_code == 303
    db.session.expire_all()
    wiki = application_by_key("wiki")
    assert wiki.sync_interval == "PT20M" and wiki.sync_settings["orphan_policy"] == "disable"
    assert wiki.sync_settings["provisioning_enabled"] is False  # the box was left unticked

    refused = admin.post("/admin/applications/wiki/sync-settings",
                         data={**form, "scoping_filter": "department is Sales"})  # fmt: skip
    assert refused.status_code == 422 and "scoping filter" in refused.text
    db.session.expire_all()
    assert application_by_key("wiki").sync_settings["scoping_filter"] == 'department eq "Sales"'
