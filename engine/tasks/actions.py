"""What people do with human tasks: see their inbox, claim, release, complete."""

from collections.abc import Sequence

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from engine.audit import trail
from engine.db import db, utcnow
from engine.errors import Conflict, Invalid, NotAllowed, NotFound, WorkflowFault
from engine.models import HumanTask, User
from engine.provisioning import accounts
from engine.tasks import inbox
from engine.tasks.candidates import acting_for, is_candidate, may_decide
from engine.workflow import faults, instances, runtime

DECISIONS = {
    "approval": ("approve", "reject"),
    "fulfillment": ("approve", "reject"),
    "failed_provisioning": ("approve", "reject", "retry"),
}
# The audit event a decision records: every event name is in the past tense.
EVENTS = {"reject": "rejected", "retry": "provisioning_retried"}


def list_inbox(user: User, scope: str = "all") -> Sequence[HumanTask]:
    """Every open task of the inbox view `scope` (see engine.tasks.inbox), oldest first."""
    query = inbox.page_query(user, scope, None, None)
    return [] if query is None else db.session.scalars(query).unique().all()


def get_task(user: User, task_id: str) -> HumanTask:
    """A task the user may see: candidates, the claimer, admins, and the item's own people."""
    return _visible(user, db.session.get(HumanTask, task_id))


def _visible(user: User, task: HumanTask | None) -> HumanTask:
    if task is None:
        raise NotFound("no such task")
    involved = user.id in (task.requester_id, task.beneficiary_id, task.claimed_by_id)
    # is_candidate covers admins, and only reads the user's groups when the task is not theirs.
    if not (involved or is_candidate(user, task)):
        raise NotFound("no such task")
    return task


def _guard_actionable(user: User, task: HumanTask) -> None:
    if task.status != "open":
        raise Conflict(f"the task is already {task.status}")
    refusal = may_decide(user, task)
    if refusal is not None:
        raise NotAllowed(refusal)
    if not is_candidate(user, task):
        raise NotAllowed("you are not a candidate for this task")


def claim_task(user: User, task_id: str) -> HumanTask:
    """Take the task; one conditional UPDATE so that of many concurrent claims exactly one wins."""
    task = get_task(user, task_id)
    _guard_actionable(user, task)
    now = utcnow()
    won = db.session.execute(
        update(HumanTask)
        .where(
            HumanTask.id == task.id,
            HumanTask.status == "open",
            or_(HumanTask.claimed_by_id.is_(None), HumanTask.claimed_by_id == user.id),
        )
        .values(claimed_by_id=user.id, claimed_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not won:
        raise Conflict("the task is claimed by someone else")
    # The row now holds exactly these values: mirror them instead of reloading it.
    set_committed_value(task, "claimed_by_id", user.id)
    set_committed_value(task, "claimed_at", now)
    trail.record("claimed", user.id, item=task.item, task_id=task.id, **_on_behalf(user, task))
    return task


def _on_behalf(user: User, task: HumanTask) -> dict:
    """{"on_behalf_of": username} when `user` acts as someone's substitute: "X for Y"."""
    principal = acting_for(user, task)
    return {"on_behalf_of": principal.username} if principal is not None else {}


def release_task(user: User, task_id: str) -> HumanTask:
    task = get_task(user, task_id)
    if task.status != "open":
        raise Conflict(f"the task is already {task.status}")
    if task.claimed_by_id != user.id and not user.is_admin:
        raise Conflict("only the one who claimed the task may release it")
    task.claimed_by_id = None
    task.claimed_at = None
    trail.record("released", user.id, item=task.item, task_id=task.id)
    return task


def _task_to_decide(user: User, task_id: str) -> tuple[HumanTask, list[HumanTask]]:
    """The task with its instance, and the instance's open tasks, in one query: all that
    deciding it reads (its item, application and people come joined with each task row)."""
    instance_id = select(HumanTask.instance_id).where(HumanTask.id == task_id).scalar_subquery()
    rows = (
        db.session.scalars(
            select(HumanTask)
            .where(
                or_(
                    HumanTask.id == task_id,
                    and_(HumanTask.instance_id == instance_id, HumanTask.status == "open"),
                )
            )
            .options(joinedload(HumanTask.instance))
        )
        .unique()
        .all()
    )
    task = next((row for row in rows if row.id == task_id), None)
    return _visible(user, task), [row for row in rows if row.status == "open"]


def complete_task(user, task_id, decision, comment=None, account_id=None) -> HumanTask:
    """Decide the task (claiming it if unclaimed) and advance the item's workflow."""
    # The events of one decision are written as one INSERT of many rows.
    with trail.batched():
        return _complete_task(user, task_id, decision, comment, account_id)


def _complete_task(user, task_id, decision, comment, account_id) -> HumanTask:
    task, open_tasks = _task_to_decide(user, task_id)
    _guard_actionable(user, task)
    if task.claimed_by_id not in (None, user.id):
        raise Conflict("the task is claimed by someone else")
    if decision not in DECISIONS[task.kind]:
        raise Invalid(
            f"decision must be one of {', '.join(DECISIONS[task.kind])}", field="decision"
        )
    fulfils = decision == "approve" and task.kind != "approval"
    removal = task.item.account_mode == "remove"
    # A removal ends the account on record: there is no new account id to give.
    needs_account = fulfils and not removal
    if needs_account and not (account_id or "").strip():
        raise Invalid(
            "account_id is required to record the account you created", field="account_id"
        )
    if len((account_id or "").strip()) > 255:  # the column's width: a longer id cannot be stored
        raise Invalid("account_id must be at most 255 characters", field="account_id")
    instance = task.instance
    workflow = runtime.load_workflow(instance)
    spiff = runtime.spiff_task(workflow, task.spiff_task_id)
    if spiff is None or spiff.state != TaskState.READY:
        raise Conflict("the workflow is no longer waiting on this task")
    spiff.data.update(decision=decision, comment=comment or "")
    try:
        runtime.run_task(spiff, workflow)
        fault = None
    except WorkflowFault as err:  # the decision stands; the designer's workflow failed after it
        fault = err
    item = task.item
    task.status, task.decision, task.comment = "completed", decision, comment
    task.completed_at, task.completed_by_id = utcnow(), user.id
    task.claimed_by_id = task.claimed_by_id or user.id
    if decision == "reject":
        item.outcome_reason = comment or f"rejected at {task.title}"
    if needs_account:
        accounts.record_account(item, account_id.strip(), "recorded", user.id)
    elif fulfils:  # a removal: its own event, so the timeline says what was done
        accounts.end_accounts(item, user.id, task_id=task.id, comment=comment, decision=decision)
    if task.kind == "failed_provisioning" and decision != "retry":
        done = "fulfilled by hand" if decision == "approve" else "rejected"
        instances.close_incidents(item.id, f"{done} by {user.username}", user.id)
    event = EVENTS[decision] if decision != "approve" else ("fulfilled" if fulfils else "approved")
    if not (fulfils and removal):
        trail.record(
            event,
            user.id,
            item=item,
            task_id=task.id,
            comment=comment,
            decision=decision,
            **_on_behalf(user, task),
        )
    instances.save(instance, workflow)
    if fault is None:
        fault = instances.sync_or_fault(instance, workflow, open_tasks)
    if fault is not None:
        faults.record_workflow_fault(instance, fault.detail)
    return task
