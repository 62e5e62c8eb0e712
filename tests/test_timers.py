"""Approval deadlines: a BPMN timer on each approval that the worker fires when it is due."""

import time

import pytest
from sqlalchemy import select

from api.worker import Worker
from engine.db import db
from engine.directory.importer import import_directory
from engine.errors import Conflict, Invalid
from engine.models import AuditEvent, HumanTask, ProcessInstance
from engine.tasks import actions
from engine.workflow.timers import fire_due_timers
from tests.flow import decide, open_task, submit


def _give_crm_a_deadline(duration):
    import_directory(
        {
            "applications": [
                {
                    "key": "crm",
                    "name": "CRM",
                    "kind": "disconnected",
                    "approver_group": "crm-approvers",
                    "fulfiller_group": "it-fulfillers",
                    "approval_timeout": duration,
                },
            ]
        }
    )


def _instance(item):
    return db.session.scalar(select(ProcessInstance).where(ProcessInstance.item_id == item.id))


def test_a_deadline_not_yet_reached_fires_nothing(app, people):
    _give_crm_a_deadline("P1D")
    item = submit(people["alice"], ("crm", "alice")).items[0]
    task = open_task(item)
    assert task.due_at is not None and task.due_at == _instance(item).next_timer_at
    assert fire_due_timers() == 0
    assert item.status == "pending_approval" and open_task(item).id == task.id


def test_an_approval_nobody_decides_in_time_expires_the_item(app, people):
    # A one-second deadline, then a real wait: the "not due yet" side is the test above, with a
    # deadline a slow machine cannot overrun between submit and check.
    _give_crm_a_deadline("PT1S")
    item = submit(people["alice"], ("crm", "alice")).items[0]
    task = open_task(item)
    assert task.due_at == _instance(item).next_timer_at

    time.sleep(1.2)
    assert Worker(app).fire_timers() == 1

    db.session.expire_all()
    assert item.status == "rejected"
    assert item.outcome_reason == "ended at Rejected: no decision in time"
    assert db.session.get(HumanTask, task.id).status == "cancelled"
    assert _instance(item).next_timer_at is None
    events = [
        e.event
        for e in db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.item_id == item.id)
            .order_by(AuditEvent.at, AuditEvent.id)
        )
    ]
    assert events[-1] == "expired"
    with pytest.raises(Conflict, match="already cancelled"):
        actions.complete_task(people["mark"], task.id, "approve")


def test_a_timely_decision_moves_the_deadline_to_the_next_approval(app, people):
    _give_crm_a_deadline("P2D")
    item = submit(people["alice"], ("crm", "alice")).items[0]
    first = _instance(item).next_timer_at
    decide(people["mark"], item)
    second = _instance(item).next_timer_at
    assert second is not None and second >= first
    assert open_task(item).lane == "ApproverGroup" and open_task(item).due_at == second
    decide(people["gina"], item)
    assert _instance(item).next_timer_at is None  # fulfilment has no deadline in the shipped BPMN
    assert fire_due_timers() == 0 and item.status == "pending_fulfillment"


def test_an_approval_timeout_that_is_not_a_duration_is_refused_on_import(app):
    with pytest.raises(Invalid, match="approval_timeout"):
        _give_crm_a_deadline("soon")
