"""What a person following an item sees besides its audit trail: its tasks and workflow version."""

from collections.abc import Sequence

from sqlalchemy import select

from engine.db import db
from engine.models import (
    Group,
    HumanTask,
    Incident,
    ProcessInstance,
    ProvisioningLog,
    RequestItem,
    User,
    WorkflowVersion,
)


def item_tasks(item: RequestItem) -> Sequence[HumanTask]:
    """Every task the item's process created, oldest first."""
    return db.session.scalars(
        select(HumanTask)
        .where(HumanTask.item_id == item.id)
        .order_by(HumanTask.created_at, HumanTask.id)
    ).all()


def item_workflow_version(item: RequestItem) -> WorkflowVersion | None:
    """The deployed version the item runs on; a newer deploy never moves a running item."""
    return db.session.scalar(
        select(WorkflowVersion)
        .join(ProcessInstance, ProcessInstance.workflow_version_id == WorkflowVersion.id)
        .where(ProcessInstance.item_id == item.id)
    )


def provisioning_attempts(item: RequestItem) -> Sequence[ProvisioningLog]:
    """The calls the worker made to the target for this item, oldest first (connectors redact
    their errors: no token or password is in them)."""
    return db.session.scalars(
        select(ProvisioningLog)
        .where(ProvisioningLog.item_id == item.id)
        .order_by(ProvisioningLog.id)
    ).all()


def open_incident(item: RequestItem) -> Incident | None:
    """The item's newest open incident: what the target said when provisioning gave up."""
    return db.session.scalar(
        select(Incident)
        .where(Incident.item_id == item.id, Incident.status == "open")
        .order_by(Incident.created_at.desc())
        .limit(1)
    )


def names_for(user_ids=(), group_ids=()) -> tuple[dict, dict]:
    """Users and groups by id, for showing who a task waits on or who decided it."""
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(set(user_ids))))}
    groups = {
        g.id: g for g in db.session.scalars(select(Group).where(Group.id.in_(set(group_ids))))
    }
    return users, groups
