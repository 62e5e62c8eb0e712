"""Reading requests and items, and cancelling an item, each checked against the caller."""

from collections.abc import Sequence

from sqlalchemy import or_, select

from engine.audit import trail
from engine.db import db, utcnow
from engine.errors import Conflict, NotAllowed, NotFound
from engine.models import (
    AccessRequest,
    Account,
    AuditEvent,
    HumanTask,
    ProcessInstance,
    ProvisioningJob,
    RequestItem,
    User,
)
from engine.workflow import instances, runtime


def can_see_item(user: User, item: RequestItem) -> bool:
    """Requester, beneficiary, admins, and anyone who is or was a candidate on its tasks."""
    if user.is_admin or user.id in (item.requester_id, item.beneficiary_id):
        return True
    group_ids = [g.id for g in user.groups]
    return (
        db.session.scalar(
            select(HumanTask.id)
            .where(
                HumanTask.item_id == item.id,
                or_(
                    HumanTask.candidate_user_id == user.id,
                    HumanTask.candidate_group_id.in_(group_ids),
                    HumanTask.claimed_by_id == user.id,
                ),
            )
            .limit(1)
        )
        is not None
    )


def get_item(user: User, item_id: str) -> RequestItem:
    item = db.session.get(RequestItem, item_id)
    if item is None or not can_see_item(user, item):
        raise NotFound("no such item")
    return item


def item_history(item: RequestItem) -> Sequence[AuditEvent]:
    return db.session.scalars(
        select(AuditEvent).where(AuditEvent.item_id == item.id).order_by(AuditEvent.id)
    ).all()


def list_requests(user: User) -> Sequence[AccessRequest]:
    """The caller's own requests, newest first."""
    return db.session.scalars(
        select(AccessRequest)
        .where(AccessRequest.requester_id == user.id)
        .order_by(AccessRequest.submitted_at.desc(), AccessRequest.id)
    ).all()


def get_request(user: User, request_id: str) -> AccessRequest:
    request = db.session.get(AccessRequest, request_id)
    if request is None or not (user.is_admin or request.requester_id == user.id):
        raise NotFound("no such request")
    return request


def cancel_item(user: User, item_id: str, reason: str | None = None) -> RequestItem:
    """The requester (or an admin) withdraws an item that has not finished."""
    item = get_item(user, item_id)
    if item.requester_id != user.id and not user.is_admin:
        raise NotAllowed("only the requester may cancel an item")
    if not item.is_open:
        raise Conflict(f"the item is already {item.status}")
    stop_item(item, user.id, reason or "cancelled by the requester", comment=reason)
    return item


def stop_item(item: RequestItem, actor_id: str | None, reason: str, comment=None) -> None:
    """Cancel an open item: its workflow, open tasks and pending jobs stop; incidents close."""
    instance = db.session.scalar(select(ProcessInstance).where(ProcessInstance.item_id == item.id))
    if instance is not None:
        workflow = runtime.load_workflow(instance)
        workflow.cancel()
        instance.state = runtime.dump_state(workflow)
        instance.status = "cancelled"
    for task in db.session.scalars(
        select(HumanTask).where(HumanTask.item_id == item.id, HumanTask.status == "open")
    ):
        task.status, task.completed_at = "cancelled", utcnow()
    for job in db.session.scalars(
        select(ProvisioningJob).where(
            ProvisioningJob.item_id == item.id, ProvisioningJob.status == "pending"
        )
    ):
        job.status = "cancelled"
    if item.status == "failed":
        instances.close_incidents(item.id, f"item cancelled: {reason}", actor_id)
    item.finish("cancelled", reason)
    trail.record("cancelled", actor_id, item=item, comment=comment)


def account_external_id(item: RequestItem) -> str | None:
    """The id the target system knows the item's account by (what the fulfiller recorded)."""
    if item.account_id is None:
        return None
    account = db.session.get(Account, item.account_id)
    return account.external_id if account is not None else None
