"""Open tasks that wait too long: a reminder to their candidates before the due date, then an
escalation that adds someone who may decide, per application (`reminder_before`,
`escalate_after`, `escalation_group`). What happens at the due date itself is the workflow's
(its deadline path: the shipped flow rejects, and the people of the item are told).

Each scan is one indexed range per application that asks for it, so its cost follows the
tasks that are due for it, not the open tasks; each task is reminded and escalated once.
"""

from datetime import datetime
from html import escape

from sqlalchemy import select

from engine import durations
from engine.audit import notices, trail
from engine.db import db, utcnow
from engine.models import Application, Group, HumanTask, User, group_members
from engine.models.directory import ADMINS_GROUP
from engine.tasks.candidates import excluded_for, may_decide

BATCH = 200


def _apps_with(setting: str) -> list[Application]:
    column = getattr(Application, setting)
    return list(db.session.scalars(select(Application).where(column.is_not(None))))


def remind_due(now: datetime | None = None, limit: int = BATCH) -> int:
    """Remind the candidates of open tasks due within their application's `reminder_before`;
    returns how many tasks were reminded. Runs in the caller's unit of work."""
    now = now or utcnow()
    done = 0
    for app in _apps_with("reminder_before"):
        soon = now + durations.parse(str(app.reminder_before))
        for task in db.session.scalars(
            select(HumanTask)
            .where(
                HumanTask.application_id == app.id,
                HumanTask.status == "open",
                HumanTask.reminded_at.is_(None),
                HumanTask.due_at <= soon,
            )
            .order_by(HumanTask.due_at)
            .limit(limit - done)
        ):
            task.reminded_at = now
            people = _candidates(task)
            for person in people:
                _tell(
                    person, task, "task_reminder", f"Reminder: {_what(task)} is due {_when(task)}"
                )
            trail.record(
                "task_reminded", None, item=task.item, task_id=task.id, recipients=len(people)
            )
            done += 1
        if done >= limit:
            break
    return done


def escalate_due(now: datetime | None = None, limit: int = BATCH) -> int:
    """Escalate open tasks older than their application's `escalate_after`; returns how many.

    A task waiting on a group gets the beneficiary's manager's manager added as a candidate;
    a task waiting on a person gets the application's escalation group (else `admins`) added.
    When the manager's manager cannot decide it, the escalation group (else `admins`) takes
    the group's place. Runs in the caller's unit of work."""
    now = now or utcnow()
    done = 0
    for app in _apps_with("escalate_after"):
        since = now - durations.parse(str(app.escalate_after))
        for task in db.session.scalars(
            select(HumanTask)
            .where(
                HumanTask.application_id == app.id,
                HumanTask.status == "open",
                HumanTask.escalated_at.is_(None),
                HumanTask.created_at <= since,
            )
            .order_by(HumanTask.created_at)
            .limit(limit - done)
        ):
            _escalate(task, app, now)
            done += 1
        if done >= limit:
            break
    return done


def _escalate(task: HumanTask, app: Application, now: datetime) -> None:
    task.escalated_at = now
    manager = task.item.beneficiary.manager
    above = manager.manager if manager is not None else None
    added: list[User] = []
    if task.candidate_user_id is None and above is not None and may_decide(above, task) is None:
        task.candidate_user_id = above.id
        added, to = [above], above.username
    else:
        group = _escalation_group(app)
        task.candidate_group_id = group.id if group is not None else task.candidate_group_id
        to = group.name if group is not None else "nobody"
        added = _members(group.id, excluded_for(task)) if group is not None else []
    trail.record("task_escalated", None, item=task.item, task_id=task.id, to=to)
    for person in added:
        _tell(person, task, "task_escalated", f"Escalated to you: {_what(task)}")


def _escalation_group(app: Application) -> Group | None:
    if app.escalation_group_id is not None:
        return db.session.get(Group, app.escalation_group_id)
    return db.session.scalar(select(Group).where(Group.name == ADMINS_GROUP))


def _candidates(task: HumanTask) -> list[User]:
    excluded = excluded_for(task)
    people = []
    if task.candidate_user_id is not None:
        person = db.session.get(User, task.candidate_user_id)
        if person is not None and person.active and person.id not in excluded:
            people.append(person)
    if task.candidate_group_id is not None:
        people += _members(task.candidate_group_id, excluded)
    return people


def _members(group_id: str, excluded: set[str]) -> list[User]:
    """The group's active members but the excluded, in one query."""
    return list(
        db.session.scalars(
            select(User)
            .join(group_members, group_members.c.user_id == User.id)
            .where(
                group_members.c.group_id == group_id,
                User.active.is_(True),
                User.id.not_in(excluded),
            )
        )
    )


def _what(task: HumanTask) -> str:
    item = task.item
    return f"{task.title} for {item.application.name} ({item.beneficiary.username})"


def _when(task: HumanTask) -> str:
    return f"{task.due_at:%Y-%m-%d %H:%M} UTC" if task.due_at else "soon"


def _tell(person: User, task: HumanTask, kind: str, subject: str) -> None:
    text = f"{subject}.\n\nOpen the task to decide it; the item's page shows its history."
    html = f"<p>{escape(subject)}.</p><p>Open the task to decide it.</p>"
    notices.queue(person, kind, subject, text, html, item=task.item)
