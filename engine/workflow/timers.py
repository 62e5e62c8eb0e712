"""BPMN timers: SpiffWorkflow never wakes itself, so the worker fires the ones that are due."""

import logging

from sqlalchemy import select

from engine.audit import trail
from engine.audit.notifications import Mailer
from engine.db import db, utcnow
from engine.errors import StaleWrite
from engine.models import ProcessInstance
from engine.unit_of_work import unit_of_work
from engine.workflow import faults, instances, runtime

log = logging.getLogger(__name__)


def fire_due_timers(limit: int = 100, mailer: Mailer | None = None) -> int:
    """Advance every running instance whose earliest timer is due; returns how many moved.

    Each instance moves in its own unit of work. Two workers racing for one instance are kept
    apart by the version column: the loser's write is stale and is dropped, not applied twice.
    An instance whose workflow fails is stopped with a `workflow_failed` incident (its owners
    mailed through `mailer`) and the others go on; a database failure ends the batch.
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
            with unit_of_work():
                fired = _fire(instance_id)
            moved += fired  # only once committed: a stale write moved nothing
        except StaleWrite:
            log.info(
                "timers: instance %s changed meanwhile; it is left to its new state", instance_id
            )
        except faults.TRANSIENT_ERRORS:
            raise
        except Exception as err:
            faults.log_exception(log, err, "timers: instance %s failed; it is stopped", instance_id)
            _stop(instance_id, err, mailer)
    return moved


def _stop(instance_id: str, error: Exception, mailer: Mailer | None) -> None:
    """Record the fault in a unit of its own; an instance moved meanwhile is left alone."""
    try:
        with unit_of_work() as uow:
            instance = db.session.get(ProcessInstance, instance_id)
            if instance is None or instance.status != "running":
                return
            incident = faults.record_workflow_fault(instance, faults.describe(error))
            uow.after_commit(lambda: faults.notify(incident.id, mailer))
    except StaleWrite:
        log.info("timers: instance %s changed meanwhile; it is not stopped", instance_id)
    except faults.TRANSIENT_ERRORS:
        raise
    except Exception as err:  # a bug in recording it: the next poll tries this instance again
        faults.log_exception(log, err, "timers: could not stop instance %s", instance_id)


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
        trail.record("expired", None, item=item, comment=item.outcome_reason)
    return 1
