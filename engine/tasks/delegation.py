"""Handing an open task to a named person: a candidate passes it on, an admin assigns it."""

from html import escape

from engine.audit import notices, trail
from engine.directory.lookup import user_by_username
from engine.errors import Conflict, Invalid, NotAllowed
from engine.models import HumanTask, User
from engine.tasks import actions
from engine.tasks.candidates import is_candidate, may_decide


def reassign_task(user: User, task_id: str, to: str, comment: str | None = None) -> HumanTask:
    """Give the task to the person named `to`, who alone may then claim and decide it.

    The caller must be able to act on it (a candidate, its claimer, or an admin), and `to` must
    be able to decide it: active, neither requester nor beneficiary, not a decider of another
    approval stage of the item. The task is unclaimed; `to` is told by a notice."""
    task = actions.get_task(user, task_id)
    if task.status != "open":
        raise Conflict(f"the task is already {task.status}")
    refusal = may_decide(user, task)
    if refusal is not None or not (is_candidate(user, task) or task.claimed_by_id == user.id):
        raise NotAllowed(refusal or "only a candidate of the task or an admin may reassign it")
    if task.claimed_by_id not in (None, user.id) and not user.is_admin:
        raise Conflict("the task is claimed by someone else")
    person = _assignee(to)
    refusal = may_decide(person, task)
    if refusal is not None:
        raise Invalid(f"{person.username} may not decide this task: {refusal}", field="to")
    if task.candidate_user_id == person.id and task.claimed_by_id is None:
        raise Conflict(f"the task is already assigned to {person.username}")
    task.candidate_user_id, task.candidate_group_id = person.id, None
    task.claimed_by_id, task.claimed_at = None, None
    trail.record(
        "task_reassigned",
        user.id,
        item=task.item,
        task_id=task.id,
        comment=comment,
        to=person.username,
        reason="delegated",
    )
    _tell(person, user, task, comment)
    return task


def _assignee(username: str) -> User:
    """The active person named `username` (an unknown or deactivated one is refused)."""
    return user_by_username((username or "").strip()[:150], field="to")


def _tell(person: User, by: User, task: HumanTask, comment: str | None) -> None:
    item = task.item
    who = by.display_name or by.username
    what = f"{task.title} for {item.application.name} ({item.beneficiary.username})"
    note = f"\n\n{who} wrote: {comment}" if comment else ""
    text = f"{who} assigned you a task: {what}.{note}"
    html = f"<p>{escape(who)} assigned you a task: {escape(what)}.</p>"
    if comment:
        html += f"<blockquote>{escape(comment)}</blockquote>"
    notices.queue(person, "task_assigned", f"A task for you: {what}", text, html, item=item)
