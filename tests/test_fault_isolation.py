"""One broken instance never holds the others back: timers and provisioning jobs go on.

An instance whose step fails (a designer's gateway naming an undefined variable, or any bug)
gets a `workflow_failed` incident, its item becomes `failed`, and the worker moves on.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select, update

from api.worker import Worker
from engine.db import db
from engine.directory.importer import import_directory
from engine.errors import Conflict
from engine.models import (
    AuditEvent,
    HumanTask,
    Incident,
    ProcessInstance,
    ProvisioningJob,
    RequestItem,
)
from engine.provisioning import accounts, incidents
from engine.workflow import bpmn, runtime
from engine.workflow.timers import fire_due_timers
from tests import provisioning_support as support
from tests import scim_server as server_plugin
from tests.flow import act, decide, open_task, submit
from tests.provisioning_support import approved_wiki_item, connect_wiki, scim_users
from tests.scim_server import SCIM_TOKEN

scim_server_process = server_plugin.scim_server_process
scim_server = server_plugin.scim_server
smtp_inbox = support.smtp_inbox

ACCESSFLOW = str(Path(sys.executable).with_name("accessflow"))

_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
    id="defs" targetNamespace="https://accessflow.dev/bpmn">
"""

# After the deadline, a gateway asks for a variable nobody ever sets.
STRICT_DEADLINE = (
    _HEAD
    + """  <bpmn:process id="strict_deadline" isExecutable="true">
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="lane_manager" name="Manager">
        <bpmn:flowNodeRef>manager_approval</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="manager_approval" name="Manager approval">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:boundaryEvent id="timeout" attachedToRef="manager_approval">
      <bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:timerEventDefinition id="timeout_timer">
        <bpmn:timeDuration>approval_timeout</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:exclusiveGateway id="escalate" name="Escalate?" default="f5">
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
      <bpmn:outgoing>f5</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:endEvent id="done" name="Done"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="expired" name="Rejected: expired">
      <bpmn:incoming>f4</bpmn:incoming><bpmn:incoming>f5</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="manager_approval" />
    <bpmn:sequenceFlow id="f2" sourceRef="manager_approval" targetRef="done" />
    <bpmn:sequenceFlow id="f3" sourceRef="timeout" targetRef="escalate" />
    <bpmn:sequenceFlow id="f4" sourceRef="escalate" targetRef="expired">
      <bpmn:conditionExpression>escalation_policy == "page"</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f5" sourceRef="escalate" targetRef="expired" />
  </bpmn:process>
</bpmn:definitions>
"""
)

# Right after the account is provisioned, a gateway asks for a variable nobody ever sets.
STRICT_PROVISIONING = (
    _HEAD
    + """  <bpmn:process id="strict_provisioning" isExecutable="true">
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="lane_manager" name="Manager">
        <bpmn:flowNodeRef>manager_approval</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="manager_approval" name="Manager approval">
      <bpmn:incoming>f0</bpmn:incoming><bpmn:outgoing>f1</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:serviceTask id="provision_account" name="Provision the account">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="provision" resultVariable="provisioning">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="operation" type="str" value="account_mode" />
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:exclusiveGateway id="audit_needed" name="Audit?" default="f4">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:outgoing>f4</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:endEvent id="done" name="Done">
      <bpmn:incoming>f3</bpmn:incoming><bpmn:incoming>f4</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="manager_approval" />
    <bpmn:sequenceFlow id="f1" sourceRef="manager_approval" targetRef="provision_account" />
    <bpmn:sequenceFlow id="f2" sourceRef="provision_account" targetRef="audit_needed" />
    <bpmn:sequenceFlow id="f3" sourceRef="audit_needed" targetRef="done">
      <bpmn:conditionExpression>audit_policy == "strict"</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f4" sourceRef="audit_needed" targetRef="done" />
  </bpmn:process>
</bpmn:definitions>
"""
)


def _application(key, name, **extra):
    return {
        "key": key,
        "name": name,
        "approver_group": "crm-approvers",
        "fulfiller_group": "it-fulfillers",
        **extra,
    }


def _strict_deadlines(timeout="PT1S"):
    """`hr` runs the strict deadline workflow; `crm` the shipped one; both expire quickly."""
    bpmn.deploy(STRICT_DEADLINE)
    import_directory(
        {
            "applications": [
                _application(
                    "hr",
                    "HR",
                    kind="disconnected",
                    workflow="strict_deadline",
                    notification_email="hr-owners@example.com",
                    approval_timeout=timeout,
                ),
                _application("crm", "CRM", kind="disconnected", approval_timeout=timeout),
            ]
        }
    )
    db.session.commit()


def _instance(item) -> ProcessInstance:
    return db.session.scalar(select(ProcessInstance).where(ProcessInstance.item_id == item.id))


def _incidents(item) -> list[Incident]:
    return db.session.scalars(
        select(Incident).where(Incident.item_id == item.id).order_by(Incident.created_at)
    ).all()


def _events(item) -> list[str]:
    return [
        e.event
        for e in db.session.scalars(
            select(AuditEvent).where(AuditEvent.item_id == item.id).order_by(AuditEvent.id)
        )
    ]


def _fresh():
    db.session.rollback()
    db.session.expire_all()


def _two_due_items(people):
    """alice's HR item (its deadline path fails) falls due first, then bob's CRM item."""
    _strict_deadlines()
    broken = submit(people["alice"], ("hr", "alice")).items[0]
    healthy = submit(people["alice"], ("crm", "bob")).items[0]
    time.sleep(1.2)
    return broken, healthy


def test_a_broken_deadline_path_does_not_stop_the_other_deadlines(app, people):
    broken, healthy = _two_due_items(people)
    assert _instance(broken).next_timer_at < _instance(healthy).next_timer_at

    assert Worker(app).fire_timers() == 1

    _fresh()
    assert healthy.status == "rejected" and _events(healthy)[-1] == "expired"
    assert broken.status == "failed" and broken.is_open
    assert "escalation_policy" in broken.outcome_reason
    instance = _instance(broken)
    assert (instance.status, instance.next_timer_at) == ("failed", None)
    [incident] = _incidents(broken)
    assert (incident.kind, incident.status) == ("workflow_failed", "open")
    assert incident.application.key == "hr" and "escalate" in incident.error
    task = db.session.scalar(select(HumanTask).where(HumanTask.item_id == broken.id))
    assert task.status == "cancelled" and open_task(broken) is None
    assert _events(broken)[-1] == "workflow_failed"

    assert fire_due_timers() == 0  # not picked again at the next poll
    _fresh()
    assert len(_incidents(broken)) == 1 and _instance(broken).version == instance.version


def test_any_error_on_one_instance_is_isolated_and_a_race_is_only_skipped(
    app, people, monkeypatch, caplog
):
    _strict_deadlines()
    raced = submit(people["alice"], ("crm", "alice")).items[0]
    buggy = submit(people["alice"], ("crm", "bob")).items[0]
    healthy = submit(people["alice"], ("crm", "stan")).items[0]
    time.sleep(1.2)
    fire = runtime.fire_timers

    def flaky(workflow):
        item_id = next(t.data["item_id"] for t in workflow.get_tasks() if "item_id" in t.data)
        if item_id == raced.id:  # another worker moves this instance meanwhile
            with db.engine.begin() as other:
                other.execute(
                    update(ProcessInstance)
                    .where(ProcessInstance.item_id == raced.id)
                    .values(version=ProcessInstance.version + 1)
                )
        if item_id == buggy.id:
            raise KeyError("password=hunter2 is not a key")
        fire(workflow)

    monkeypatch.setattr(runtime, "fire_timers", flaky)

    assert fire_due_timers() == 1

    _fresh()
    assert healthy.status == "rejected"
    assert raced.status == "pending_approval" and _incidents(raced) == []
    assert _instance(raced).status == "running"  # a race is left to the next poll
    assert buggy.status == "failed" and _instance(buggy).status == "failed"
    [incident] = _incidents(buggy)
    assert incident.kind == "workflow_failed" and "KeyError" in incident.error
    assert "hunter2" not in incident.error and "hunter2" not in buggy.outcome_reason
    assert "Traceback" in caplog.text and "hunter2" not in caplog.text


def test_admin_retry_rearms_the_deadline_and_resolve_closes_the_item(app, people, monkeypatch):
    _strict_deadlines()
    transient = submit(people["alice"], ("crm", "alice")).items[0]
    broken = submit(people["alice"], ("hr", "bob")).items[0]
    time.sleep(1.2)
    fire = runtime.fire_timers
    calls = []

    def fails_once(workflow):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the engine hiccuped")
        fire(workflow)

    monkeypatch.setattr(runtime, "fire_timers", fails_once)
    fire_due_timers()
    _fresh()
    assert transient.status == "failed" and broken.status == "failed"
    [hiccup] = _incidents(transient)
    [designer_error] = _incidents(broken)

    with pytest.raises(Exception, match="only administrators"):
        act(incidents.retry_incident, people["gina"], hiccup.id)
    act(incidents.retry_incident, people["root"], hiccup.id, "engine fixed")
    _fresh()
    assert hiccup.status == "resolved" and hiccup.resolved_by.username == "root"
    instance = _instance(transient)
    assert instance.status == "running" and instance.next_timer_at is not None
    assert transient.status == "pending_approval" and open_task(transient) is not None
    assert "workflow_resumed" in _events(transient)
    assert fire_due_timers() == 1  # the re-armed deadline fires at the next poll
    _fresh()
    assert transient.status == "rejected" and transient.open_key is None

    act(incidents.resolve_incident, people["root"], designer_error.id, "HR will resubmit")
    _fresh()
    assert designer_error.status == "resolved"
    assert broken.status == "failed" and not broken.is_open  # bob may ask again
    assert _instance(broken).status == "failed"
    with pytest.raises(Conflict, match="already resolved"):
        act(incidents.retry_incident, people["root"], designer_error.id)
    submit(people["alice"], ("hr", "bob"))


def test_the_application_owners_and_admins_are_mailed(app, people, smtp_inbox):
    inbox, port = smtp_inbox
    app.config.update(SMTP_PORT=port, MAIL_FROM="accessflow@example.com")
    broken, _healthy = _two_due_items(people)

    Worker(app).fire_timers()

    [message] = inbox.wait_for(1)
    assert "hr-owners@example.com" in message["X-Envelope-To"]
    assert "root@example.com" in message["X-Envelope-To"]
    assert "HR" in message["Subject"] and broken.id in message.get_payload()
    _fresh()
    assert _incidents(broken)[0].notified_at is not None


def _strict_docs(base_url):
    """`docs` runs the strict provisioning workflow against the same target as `wiki`."""
    bpmn.deploy(STRICT_PROVISIONING)
    connector = connect_wiki(base_url)
    import_directory(
        {
            "applications": [
                _application(
                    "docs",
                    "Docs",
                    kind="connected",
                    workflow="strict_provisioning",
                    connector={**connector, "base_url": base_url},
                )
            ]
        }
    )
    db.session.commit()


def _work(app):
    db.session.rollback()
    done = Worker(app).run_until_idle(timeout=30)
    _fresh()
    return done


def _jobs(item) -> list[ProvisioningJob]:
    return db.session.scalars(
        select(ProvisioningJob)
        .where(ProvisioningJob.item_id == item.id)
        .order_by(ProvisioningJob.created_at)
    ).all()


def test_a_workflow_failing_after_its_job_does_not_hold_back_the_other_jobs(
    app, people, scim_server
):
    _strict_docs(scim_server)
    broken = submit(people["alice"], ("docs", "bob")).items[0]
    decide(people["mark"], broken)
    healthy = approved_wiki_item(people, "alice")
    assert broken.status == "provisioning" and healthy.status == "provisioning"

    assert _work(app) == 2

    assert healthy.status == "fulfilled"
    assert broken.status == "failed" and broken.is_open
    [incident] = _incidents(broken)
    assert (incident.kind, incident.status) == ("workflow_failed", "open")
    assert "audit_policy" in incident.error and SCIM_TOKEN not in incident.error
    assert incident.job_id == _jobs(broken)[0].id
    assert [j.status for j in _jobs(broken)] == ["failed"]
    assert _instance(broken).status == "failed"
    assert _work(app) == 0  # nothing is left to run for it


def test_a_bug_recording_one_result_spares_the_batch_and_retry_links_the_account(
    app, people, scim_server, monkeypatch, caplog
):
    connect_wiki(scim_server)
    buggy = approved_wiki_item(people, "bob")
    healthy = approved_wiki_item(people, "alice")
    record_account = accounts.record_account

    def broken_for_bob(item, *args, **kwargs):
        if item.id == buggy.id:
            raise RuntimeError(f"lost track; Authorization: Bearer {SCIM_TOKEN}")
        return record_account(item, *args, **kwargs)

    monkeypatch.setattr(accounts, "record_account", broken_for_bob)

    assert _work(app) == 2

    assert healthy.status == "fulfilled"
    assert buggy.status == "failed" and _instance(buggy).status == "failed"
    [incident] = _incidents(buggy)
    assert incident.kind == "workflow_failed" and "RuntimeError" in incident.error
    assert SCIM_TOKEN not in incident.error and SCIM_TOKEN not in buggy.outcome_reason
    assert "broken_for_bob" in caplog.text and SCIM_TOKEN not in caplog.text
    assert len(scim_users(scim_server)) == 2  # bob's account was made before the bug

    monkeypatch.setattr(accounts, "record_account", record_account)
    act(incidents.retry_incident, people["root"], incident.id, "bug fixed")
    _fresh()
    assert buggy.status == "provisioning"
    assert [j.status for j in _jobs(buggy)] == ["failed", "pending"]
    _work(app)
    assert buggy.status == "fulfilled" and len(scim_users(scim_server)) == 2  # linked
    assert incident.status == "resolved"


@pytest.mark.processes
def test_a_real_worker_process_survives_a_broken_instance(app, people, database_url, tmp_path):
    broken, healthy = _two_due_items(people)
    db.session.remove()
    env = {**os.environ, "DATABASE_URL": database_url, "ACCESSFLOW_HOME": str(tmp_path)}
    with open(tmp_path / "worker.log", "wb") as log:
        worker = subprocess.Popen(
            [ACCESSFLOW, "worker", "--id", "w1", "--interval", "0.2"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                _fresh()
                if db.session.get(RequestItem, healthy.id).status == "rejected":
                    break
                time.sleep(0.2)
            _fresh()
            assert db.session.get(RequestItem, healthy.id).status == "rejected"
            assert db.session.get(RequestItem, broken.id).status == "failed"
            time.sleep(0.5)
            assert worker.poll() is None  # still serving
        finally:
            worker.send_signal(signal.SIGTERM)
            code = worker.wait(timeout=20)
    assert code == 0
    assert "Traceback" in (tmp_path / "worker.log").read_text()  # the full error is logged
