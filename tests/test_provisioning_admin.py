"""Stories of administrators: incidents, the provisioning log, quarantine, test connection."""

import logging

import pytest
from sqlalchemy import select

from api.worker import Worker
from engine.db import db
from engine.directory.lookup import application_by_key
from engine.errors import Conflict, Invalid, NotAllowed
from engine.models import AuditEvent, Incident, ProvisioningJob, ProvisioningLog
from engine.provisioning import connected_apps, incidents, jobs
from tests import api_client
from tests import provisioning_support as support
from tests import scim_server as server_plugin
from tests.flow import act
from tests.provisioning_support import FaultProxy, approved_wiki_item, connect_wiki, scim_users
from tests.scim_server import SCIM_TOKEN

scim_server_process = server_plugin.scim_server_process
scim_server = server_plugin.scim_server
smtp_inbox = support.smtp_inbox
api = api_client.api
DEAD_TARGET = "http://127.0.0.1:9/wiki/v2"


def work(app):
    db.session.rollback()
    done = Worker(app).run_until_idle(timeout=30)
    db.session.rollback()
    db.session.expire_all()
    return done


def test_admins_list_retry_and_resolve_incidents(app, people):
    root, fred = people["root"], people["fred"]
    connect_wiki(DEAD_TARGET, max_attempts=1)
    item = approved_wiki_item(people)
    work(app)
    with pytest.raises(NotAllowed):
        incidents.list_incidents(fred)
    [incident] = incidents.list_incidents(root)
    assert (incident.kind, incident.item_id, incident.application.key) == (
        "provisioning_failed",
        item.id,
        "wiki",
    )
    assert "connection failed" in incident.error

    act(incidents.retry_incident, root, incident.id, "try once more")
    assert item.status == "provisioning" and incident.status == "resolved"
    assert incident.resolved_by_id == root.id
    with pytest.raises(Conflict):
        act(incidents.retry_incident, root, incident.id)
    work(app)  # still dead: a new incident
    [again] = incidents.list_incidents(root)
    assert again.id != incident.id and item.status == "failed"

    with pytest.raises(NotAllowed):
        act(incidents.resolve_incident, fred, again.id)
    act(incidents.resolve_incident, root, again.id, "created by hand, see ticket 42")
    assert incidents.list_incidents(root) == []
    assert len(incidents.list_incidents(root, status=None)) == 2
    with pytest.raises(Invalid):
        incidents.list_incidents(root, status="maybe")


def test_a_mostly_failing_target_is_quarantined_until_an_admin_resumes(
    app, people, scim_server, smtp_inbox
):
    inbox, port = smtp_inbox
    app.config.update(SMTP_PORT=port)
    with FaultProxy(scim_server) as proxy:
        proxy.fail_with(502)
        connect_wiki(
            proxy.base_url,
            max_attempts=10,
            quarantine_window=4,
            quarantine_min_operations=4,
            quarantine_failure_ratio=0.75,
        )
        first, second = approved_wiki_item(people), approved_wiki_item(people, "bob")
        work(app)

        wiki = application_by_key("wiki")
        assert wiki.quarantined_at is not None
        assert len(db.session.scalars(select(ProvisioningLog)).all()) == 4
        assert {first.status, second.status} == {"provisioning"}
        assert jobs.claim_due_jobs("any-worker") == []  # paused, though due
        [quarantine] = incidents.list_incidents(people["root"])
        assert quarantine.kind == "quarantine" and "4 of the last 4" in quarantine.error
        [message] = inbox.wait_for(1)
        assert "wiki is quarantined" in message["Subject"].lower()
        assert "root@example.com" in message["X-Envelope-To"]
        assert "accessflow app resume wiki" in message.get_payload()

        with pytest.raises(NotAllowed):
            act(connected_apps.resume_application, people["fred"], "wiki")
        with pytest.raises(Conflict):
            act(incidents.resolve_incident, people["root"], quarantine.id)
        proxy.heal()
        act(connected_apps.resume_application, people["root"], "wiki", "target fixed")
        work(app)

    assert (first.status, second.status) == ("fulfilled", "fulfilled")
    assert len(scim_users(scim_server)) == 2
    assert application_by_key("wiki").quarantined_at is None
    assert db.session.get(Incident, quarantine.id).status == "resolved"
    with pytest.raises(Conflict):
        act(connected_apps.resume_application, people["root"], "wiki")


def test_the_token_never_reaches_the_log_incidents_audit_email_or_worker_logs(
    app, people, scim_server, smtp_inbox, caplog
):
    inbox, port = smtp_inbox
    app.config.update(SMTP_PORT=port)
    caplog.set_level(logging.DEBUG)
    with FaultProxy(scim_server) as proxy:
        proxy.fail_with(500)  # a hostile target: its error echoes our Authorization header
        connect_wiki(proxy.base_url, max_attempts=2)
        item = approved_wiki_item(people)
        work(app)
        assert item.status == "failed"
    rows = [
        *[(e.error, e.external_id) for e in db.session.scalars(select(ProvisioningLog))],
        *[(i.error, i.resolution) for i in db.session.scalars(select(Incident))],
        *[(e.details, e.comment) for e in db.session.scalars(select(AuditEvent))],
        *[(j.params, j.result, j.last_error) for j in db.session.scalars(select(ProvisioningJob))],
    ]
    text = repr(rows) + caplog.text + "".join(m.as_string() for m in inbox.wait_for(1))
    assert "injected fault; you sent Bearer ***" in text  # the echo arrived, redacted
    assert SCIM_TOKEN not in text


def test_the_provisioning_log_is_for_admins_and_filters(app, people, scim_server):
    connect_wiki(scim_server)
    item = approved_wiki_item(people)
    work(app)
    with pytest.raises(NotAllowed):
        incidents.provisioning_log(people["gina"])
    [entry] = incidents.provisioning_log(people["root"], application="wiki", item_id=item.id)
    assert (entry.outcome, entry.user.username, entry.attempt) == ("created", "alice", 1)
    assert incidents.provisioning_log(people["root"], outcome="failed") == []
    assert incidents.provisioning_log(people["root"], before=entry.id) == []


def test_admin_api_incidents_log_connection_and_resume(app, people, api, scim_server):
    root, alice = api["root"], api["alice"]
    connect_wiki(DEAD_TARGET, max_attempts=1)
    item = approved_wiki_item(people)
    work(app)

    assert alice.get("/api/v1/admin/incidents").status_code == 403
    listed = root.get("/api/v1/admin/incidents")
    assert listed.status_code == 200
    [incident] = listed.get_json()["items"]
    assert (incident["item"], incident["application"], incident["status"]) == (
        item.id,
        "wiki",
        "open",
    )
    log = root.get(f"/api/v1/admin/provisioning-log?item={item.id}").get_json()
    assert [e["outcome"] for e in log["items"]] == ["failed"] and log["next"] is None

    failed = root.post("/api/v1/admin/applications/wiki/test-connection")
    assert failed.status_code == 422 and "connection failed" in failed.get_json()["detail"]
    assert alice.post("/api/v1/admin/applications/wiki/test-connection").status_code == 403
    connect_wiki(scim_server)
    tested = root.post("/api/v1/admin/applications/wiki/test-connection")
    assert tested.status_code == 200 and tested.get_json()["ok"] is True
    assert SCIM_TOKEN not in tested.get_data(as_text=True)

    retried = root.post(f"/api/v1/admin/incidents/{incident['id']}/retry", json={"comment": "up"})
    assert retried.status_code == 200 and retried.get_json()["status"] == "resolved"
    work(app)
    assert item.status == "fulfilled" and len(scim_users(scim_server)) == 1
    again = root.post(f"/api/v1/admin/incidents/{incident['id']}/resolve", json={})
    assert again.status_code == 409
    assert root.post("/api/v1/admin/applications/wiki/resume").status_code == 409
