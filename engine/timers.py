"""BPMN timers: SpiffWorkflow never wakes itself, so the worker fires the ones that are due."""

import logging

from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from engine import audit, instances, runtime
from engine.db import db, utcnow
from engine.models import ProcessInstance

log = logging.getLogger(__name__)


def fire_due_timers(limit: int = 100) -> int:
    """Advance every running instance whose earliest timer is due; returns how many moved.

    Each instance moves in its own transaction. Two workers racing for one instance are kept
    apart by the version column: the loser's write is stale and is dropped, not applied twice.
    """
    due = db.session.scalars(
        select(ProcessInstance.id)
        .where(ProcessInstance.status == "running", ProcessInstance.next_timer_at <= utcnow())
        .order_by(ProcessInstance.next_timer_at)
        .limit(limit)
    ).all()
    db.session.rollback()
    moved = 0
    for instance_id in due:
        try:
            moved += _fire(instance_id)
        except StaleDataError:
            db.session.rollback()
            log.info(
                "timers: instance %s changed meanwhile; it is left to its new state", instance_id
            )
    return moved


def _fire(instance_id: str) -> int:
    instance = db.session.get(ProcessInstance, instance_id)
    if instance is None or instance.status != "running" or instance.next_timer_at is None:
        return 0
    if instance.next_timer_at > utcnow():
        return 0
    workflow = runtime.load_workflow(instance)
    runtime.fire_timers(workflow)
    item = instance.item
    was_open = item.is_open
    instances.save(instance, workflow)
    instances.sync(instance, workflow)
    if was_open and not item.is_open:
        audit.record("expired", None, item=item, comment=item.outcome_reason)
    db.session.commit()
    return 1
