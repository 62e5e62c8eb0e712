"""Waiting tasks: a reminder before the due date and an escalation after a while, per
application; time is moved by passing `now` to the scans, never by sleeping."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.db import db, utcnow
from engine.directory.importer import import_directory
from engine.errors import Invalid
from engine.models import AuditEvent, Group, Notice, User
from engine.tasks import actions, reminders
from tests.flow import act, decide, open_task, submit


def crm(**settings):
    entry = {
        "key": "crm",
        "name": "CRM",
        "kind": "disconnected",
        "approver_group": "crm-approvers",
        "fulfiller_group": "it-fulfillers",
        "approval_timeout": "P5D",
        **settings,
    }
    act(import_directory, {"applications": [entry]})


def notices_to(username, kind):
    user = db.session.scalar(select(User).where(User.username == username))
    return db.session.scalars(
        select(Notice).where(Notice.recipient_id == user.id, Notice.kind == kind)
    ).all()


def events(item, name):
    return db.session.scalars(
        select(AuditEvent).where(AuditEvent.item_id == item.id, AuditEvent.event == name)
    ).all()


def test_the_candidates_are_reminded_once_before_the_due_date(people):
    crm(reminder_before="P1D")
    act(import_directory, {"groups": [{"name": "crm-approvers", "members": ["gina", "stan"]}]})
    item = submit(people["alice"], ("crm", "alice")).items[0]
    decide(people["mark"], item)

    assert act(reminders.remind_due) == 0  # due in 5 days
    later = utcnow() + timedelta(days=4, hours=1)
    assert act(reminders.remind_due, later) == 1
    for who in ("gina", "stan"):
        [notice] = notices_to(who, "task_reminder")
        assert notice.subject.startswith("Reminder: Approver group approval for CRM (alice) is due")
    assert notices_to("mark", "task_reminder") == []  # he decided the other stage
    assert len(events(item, "task_reminded")) == 1
    assert act(reminders.remind_due, later + timedelta(hours=1)) == 0  # once


def test_an_application_without_reminders_reminds_nobody(people):
    submit(people["alice"], ("crm", "alice"))
    assert act(reminders.remind_due, utcnow() + timedelta(days=30)) == 0


def test_a_manager_task_left_waiting_is_escalated_to_the_escalation_group(people):
    act(import_directory, {"groups": [{"name": "escalations", "members": ["dora"]}]})
    crm(escalate_after="P2D", escalation_group="escalations")
    item = submit(people["alice"], ("crm", "alice")).items[0]
    task = open_task(item)

    assert act(reminders.escalate_due, utcnow() + timedelta(days=1)) == 0
    assert act(reminders.escalate_due, utcnow() + timedelta(days=3)) == 1
    db.session.expire_all()
    escalations = db.session.scalar(select(Group.id).where(Group.name == "escalations"))
    assert (task.candidate_user_id, task.candidate_group_id) == (people["mark"].id, escalations)
    assert [n.subject for n in notices_to("dora", "task_escalated")] == [
        "Escalated to you: Manager approval for CRM (alice)"
    ]
    [event] = events(item, "task_escalated")
    assert event.details["to"] == "escalations"
    decide(people["dora"], item)  # the added candidate may decide
    assert open_task(item).lane == "ApproverGroup"


def test_a_group_task_gets_the_manager_s_manager_added(people):
    act(import_directory, {"users": [{"username": "mark", "manager": "root"}]})
    crm(escalate_after="PT1H")
    item = submit(people["alice"], ("crm", "alice")).items[0]
    decide(people["mark"], item)
    task = open_task(item)

    assert act(reminders.escalate_due, utcnow() + timedelta(hours=2)) == 1
    db.session.expire_all()
    assert task.candidate_user_id == people["root"].id and task.candidate_group_id is not None
    assert [t.id for t in actions.list_inbox(people["gina"])] == [task.id]  # gina still may


def test_the_directory_refuses_a_reminder_that_is_not_a_duration(people):
    with pytest.raises(Invalid, match="reminder_before"):
        crm(reminder_before="a day before")
