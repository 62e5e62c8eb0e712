"""Stories of a group change that starts many items at once (written in one batch per table).

A group grants apps whose processes stop at different places: a disconnected app waits for the
fulfillers, a single sign-on app is done at once, a designer's broken flow fails on its way.
All of them are started by the one change, and the rows written in bulk are the real thing:
the saved state loads and the fulfillers finish the work from it."""

import json
from datetime import datetime, timedelta

from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from sqlalchemy import func, select

from engine.access import changes
from engine.db import db
from engine.directory.importer import import_directory
from engine.directory.lookup import application_by_key
from engine.models import (
    AccessChange,
    Assignment,
    AuditEvent,
    Group,
    HumanTask,
    Incident,
    ProcessInstance,
    RequestItem,
)
from engine.workflow import bpmn, runtime
from tests.flow import act, decide, open_task

# A gateway right after the start asks for a variable nobody sets: it fails at once.
BROKEN_AT_START = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    id="defs" targetNamespace="https://accessflow.dev/bpmn">
  <bpmn:process id="broken_at_start" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:exclusiveGateway id="check" name="Check" default="f3">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:endEvent id="done" name="Done">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:incoming>f3</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="check" />
    <bpmn:sequenceFlow id="f2" sourceRef="check" targetRef="done">
      <bpmn:conditionExpression>nobody_sets_this == "x"</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f3" sourceRef="check" targetRef="done" />
  </bpmn:process>
</bpmn:definitions>
"""


def _apps(*extra):
    apps = [
        {"key": "portal", "name": "Portal", "kind": "sso", "approver_group": "crm-approvers"},
        {
            "key": "gadget",
            "name": "Gadget",
            "kind": "disconnected",
            "approver_group": "crm-approvers",
            "fulfiller_group": "it-fulfillers",
        },
    ]
    act(import_directory, {"applications": apps + list(extra)})


def _route_group_items(app_key, workflow_key):
    def route():
        application_by_key(app_key).workflows = {"group": workflow_key}

    act(route)


def _item(person, app_key) -> RequestItem:
    return db.session.scalar(
        select(RequestItem).where(
            RequestItem.beneficiary_id == person.id,
            RequestItem.application_id == application_by_key(app_key).id,
        )
    )


def _events(item) -> list[str]:
    return list(
        db.session.scalars(
            select(AuditEvent.event).where(AuditEvent.item_id == item.id).order_by(AuditEvent.id)
        )
    )


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_one_change_starts_waiting_finished_and_failing_items_together(people):
    _apps()
    act(bpmn.deploy, BROKEN_AT_START)
    _route_group_items("gadget", "broken_at_start")
    joining = {"name": "sales", "members": ["alice", "bob"]}
    joining["applications"] = [{"application": k} for k in ("crm", "portal", "gadget")]

    act(import_directory, {"groups": [joining]})
    db.session.expire_all()

    for name in ("alice", "bob"):
        person = people[name]
        crm, portal, gadget = (_item(person, key) for key in ("crm", "portal", "gadget"))
        assert (crm.origin, crm.status, crm.open_key) == (
            "group",
            "pending_fulfillment",
            f"{person.id}:{crm.application_id}",
        )
        task = open_task(crm)
        fulfillers = db.session.scalar(select(Group.id).where(Group.name == "it-fulfillers"))
        assert (task.kind, task.candidate_group_id, task.beneficiary_id) == (
            "fulfillment",
            fulfillers,
            person.id,
        )
        assert _events(crm) == ["submitted", "task_created"]
        assert (portal.status, portal.open_key) == ("fulfilled", None)
        assert gadget.status == "failed"
        [incident] = db.session.scalars(select(Incident).where(Incident.item_id == gadget.id))
        assert incident.kind == "workflow_failed"
    assert _count(Assignment) == 6

    # The state written in bulk is a real one: loaded from its row, the fulfiller finishes it.
    runtime._live.clear()
    crm = _item(people["alice"], "crm")
    instance = db.session.scalar(select(ProcessInstance).where(ProcessInstance.item_id == crm.id))
    assert instance.version == 1 and instance.status == "running"
    decide(people["fred"], crm, account_id="alice.archer")
    db.session.expire_all()
    assert (crm.status, crm.open_key) == ("fulfilled", None)


def test_a_change_that_cannot_start_every_item_writes_nothing(app, people):
    _apps()
    _route_group_items("gadget", "not_deployed")
    users = [{"username": f"p{i}", "email": f"p{i}@example.com"} for i in range(30)]
    act(import_directory, {"users": users})
    members = [u["username"] for u in users]
    group = {"name": "sales", "members": members}
    group["applications"] = [{"application": k} for k in ("crm", "gadget")]
    act(import_directory, {"groups": [group]})  # 60 pairs: left to the worker
    db.session.rollback()

    assert changes.run_due("worker-1") == 0  # as the worker calls it: one unit per attempt

    db.session.expire_all()
    [change] = db.session.scalars(select(AccessChange)).all()
    assert change.status == "failed" and "not_deployed" in change.error
    for model in (Assignment, RequestItem, ProcessInstance, HumanTask):
        assert _count(model) == 0, model.__tablename__


def test_the_saved_state_is_the_document_spiffworkflow_itself_writes(people):
    version = bpmn.latest_version("grant")
    workflow = runtime.new_workflow(version, {"origin": "group", "application_kind": "x"})
    [task] = runtime.waits(workflow)[0]
    task.data.update(
        when=datetime(2026, 12, 2, 10, 0),
        nested={"span": timedelta(days=2), "ids": ["a", "b"], 3: "three"},
        tags={"one"},
    )
    own = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(runtime._config))

    saved = runtime.dump_state(workflow)

    assert json.loads(saved) == json.loads(json.dumps(own.to_dict(workflow), cls=own._encoder_cls))
    restored = runtime.SERIALIZER.from_dict(
        json.loads(saved), spec=workflow.spec, subprocess_specs=workflow.subprocess_specs
    )
    data = restored.get_task_from_id(task.id).data
    assert data["when"] == datetime(2026, 12, 2, 10, 0)
    assert data["nested"]["span"] == timedelta(days=2)
