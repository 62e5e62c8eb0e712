"""Recording a provisioning job's result: what happened to the call, written in one transaction.

The job row (only if this worker still holds its lease), the log row, the account, the service
task completed with `provisioning = {"status", "external_id", "linked", "error"}`, the workflow
advanced and its new waits mirrored, incidents opened or closed, the quarantine checked; after
the commit (an after-commit hook of the unit), the mail to the people concerned.
"""

from __future__ import annotations

import logging
from functools import partial

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from engine.audit import trail
from engine.audit.notifications import Mailer, provisioning_failed_message, quarantine_message
from engine.db import db, new_id, utcnow
from engine.errors import StaleWrite
from engine.models import Application, Incident, ProcessInstance, ProvisioningLog
from engine.provisioning import accounts, connected_apps, jobs
from engine.provisioning.attempt import Attempt
from engine.unit_of_work import unit_of_work
from engine.workflow import faults, instances, runtime

log = logging.getLogger(__name__)
STALE_RETRY_SECONDS = 1.0


class LeaseLost(Exception):
    """Another worker took the job over (this worker's lease expired)."""


def record_results(attempts: list[Attempt], mailer: Mailer | None = None) -> None:
    """Write the attempts' results in one unit, or each in its own if any of them fails;
    each attempt's mail goes out through `mailer` once its result is committed."""
    try:
        with unit_of_work() as uow:
            _prefetch(attempts)
            with db.session.no_autoflush:  # one flush at the commit: the inserts go in batches
                for attempt in attempts:
                    _record(attempt)
            for attempt in attempts:
                uow.after_commit(partial(send_mail, attempt, mailer))
    except faults.TRANSIENT_ERRORS:
        raise  # the database failed: the leases expire and the jobs run again
    except Exception as err:  # one bad apple: record them one by one
        log.info("recording %d results together failed (%r): one by one", len(attempts), err)
        for attempt in attempts:
            attempt.mail.clear()
            _record_alone(attempt, mailer)


def _prefetch(attempts: list[Attempt]) -> None:
    """Load the instances (with items) the results advance, and find the items with open
    incidents, in two queries rather than a few per job."""
    ids = [a.instance_id for a in attempts if a.outcome != "retrying"]
    if len(ids) > 1:
        db.session.scalars(
            select(ProcessInstance)
            .where(ProcessInstance.id.in_(ids))
            .options(joinedload(ProcessInstance.item))
        ).all()
    with_incidents = set(
        db.session.scalars(
            select(Incident.item_id).where(
                Incident.item_id.in_([a.item_id for a in attempts]), Incident.status == "open"
            )
        )
    )
    for attempt in attempts:
        attempt.open_incident = attempt.item_id in with_incidents


def _record_alone(attempt: Attempt, mailer: Mailer | None) -> None:
    try:
        with unit_of_work() as uow:
            _record(attempt)
            uow.after_commit(partial(send_mail, attempt, mailer))
    except LeaseLost:
        with unit_of_work():
            _abandon(attempt, "lease lost to another worker")
    except StaleWrite:
        _retry_soon(attempt)
    except faults.TRANSIENT_ERRORS:
        raise
    except Exception as err:  # the workflow failed after the task (a designer's error, a bug)
        faults.log_exception(
            log,
            err,
            "job %s: the workflow of item %s failed; it is stopped",
            attempt.job_id,
            attempt.item_id,
            secrets=faults.secret_values(attempt.settings),
        )
        _stop_workflow(attempt, err, mailer)


def _retry_soon(attempt: Attempt) -> None:
    # Someone changed the item meanwhile: try again soon; the lookup will link the account.
    with unit_of_work():
        _abandon(attempt, "the item changed meanwhile")
        jobs.retry_later(attempt.job_id, attempt.worker_id, STALE_RETRY_SECONDS, attempt.error)


def _stop_workflow(attempt: Attempt, error: Exception, mailer: Mailer | None) -> None:
    """Fail the job and stop its instance with a `workflow_failed` incident, in a unit of its
    own; a bug here is logged and the other jobs go on."""
    reason = faults.summarize(faults.describe(error), faults.secret_values(attempt.settings))
    try:
        with unit_of_work() as uow:
            if not jobs.release(
                attempt.job_id, attempt.worker_id, status="failed", last_error=reason
            ):
                raise LeaseLost(attempt.job_id)
            _abandon(attempt, reason)
            instance = db.session.get(ProcessInstance, attempt.instance_id)
            if instance is not None and instance.status == "running":
                incident = faults.record_workflow_fault(instance, reason, job_id=attempt.job_id)
                db.session.flush()  # the new incident's application loads only once it is stored
                attempt.mail.append(faults.mail_for(incident))
                uow.after_commit(partial(send_mail, attempt, mailer))
    except LeaseLost:
        with unit_of_work():
            _abandon(attempt, "lease lost to another worker")
    except StaleWrite:
        _retry_soon(attempt)
    except faults.TRANSIENT_ERRORS:
        raise
    except Exception as err:  # the job stays leased: it runs again once its lease expires
        faults.log_exception(log, err, "job %s: could not stop its workflow", attempt.job_id)


def _abandon(attempt: Attempt, reason: str) -> None:
    attempt.mail.clear()
    attempt.outcome = "abandoned"
    attempt.error = ((attempt.error + "; ") if attempt.error else "") + reason
    attempt.error = attempt.error[:500]
    _log_row(attempt)


def _log_row(attempt: Attempt) -> None:
    db.session.add(
        ProvisioningLog(
            application_id=attempt.app_id,
            item_id=attempt.item_id,
            job_id=attempt.job_id,
            user_id=attempt.user["id"],
            external_id=attempt.external_id,
            operation=attempt.operation,
            outcome=attempt.outcome,
            attempt=attempt.number,
            duration_ms=attempt.duration_ms,
            http_status=attempt.http_status,
            error=attempt.error,
            worker=attempt.worker_id,
        )
    )


def _record(attempt: Attempt) -> None:
    """Add the attempt's result to the transaction; LeaseLost when the job is no longer ours."""
    if attempt.outcome == "retrying":
        policy = jobs.RetryPolicy.from_settings(attempt.settings)
        delay = policy.delay(attempt.number, attempt.retry_after)
        if not jobs.retry_later(attempt.job_id, attempt.worker_id, delay, attempt.error):
            raise LeaseLost(attempt.job_id)
        _log_row(attempt)
        _check_quarantine(attempt)
        return None
    instance = db.session.get(ProcessInstance, attempt.instance_id)
    workflow = runtime.load_workflow(instance)
    task = runtime.spiff_task(workflow, attempt.spiff_task_id)
    if instance.status != "running" or task is None or task.state != TaskState.STARTED:
        made = attempt.outcome in ("created", "linked") and attempt.external_id
        attempt.outcome, attempt.error = "abandoned", "the item no longer waits on this job"
        if not jobs.release(attempt.job_id, attempt.worker_id, status="cancelled"):
            raise LeaseLost(attempt.job_id)
        _log_row(attempt)
        if made:  # the call went through after all: the account exists, so take it back
            _took_back(instance.item, attempt)
        return None
    succeeded = attempt.outcome != "failed"
    result = {
        "status": "succeeded" if succeeded else "failed",
        "external_id": attempt.external_id,
        "linked": attempt.linked,
        "error": attempt.error,
    }
    held = jobs.release(
        attempt.job_id,
        attempt.worker_id,
        status="succeeded" if succeeded else "failed",
        result=result,
        last_error=attempt.error,
    )
    if not held:
        raise LeaseLost(attempt.job_id)
    task.data[task.task_spec.result_variable] = result
    task.complete()
    runtime.run_engine(workflow)
    item = instance.item
    _log_row(attempt)
    if succeeded:
        if attempt.open_incident:
            instances.close_incidents(item.id, "provisioned on a later attempt")
        if attempt.operation == "remove":
            accounts.end_accounts(item, None, job_id=attempt.job_id)
        else:
            _record_account(item, attempt)
            trail.record(
                "provisioned",
                None,
                item=item,
                job_id=attempt.job_id,
                external_id=attempt.external_id,
                linked=attempt.linked,
            )
    else:
        _open_incident(attempt)
        trail.record(
            "provisioning_failed", None, item=item, job_id=attempt.job_id, error=attempt.error
        )
        _check_quarantine(attempt)
    instances.save(instance, workflow)
    instances.sync(instance, workflow)
    return None


def _record_account(item, attempt: Attempt) -> None:
    origin = "provisioned" if attempt.outcome == "created" else "linked"
    accounts.record_account(item, attempt.external_id, origin)


def _took_back(item, attempt: Attempt) -> None:
    """An account made for an item cancelled meanwhile (a leaver, a group left): it is put on
    record, then removed unless the person should still hold the application."""
    from engine.access import items as access_items

    origin = "provisioned" if attempt.outcome == "created" else "linked"
    accounts.record_account(item, attempt.external_id, origin)
    db.session.flush()
    access_items.remove_if_unassigned(
        item.beneficiary,
        item.application,
        origin="sync",
        actor=None,
        reason="an account was made for an item cancelled meanwhile",
    )


def _open_incident(attempt: Attempt) -> None:
    instances.close_incidents(attempt.item_id, "superseded by a newer failure")
    incident = Incident(
        id=new_id(),
        kind="provisioning_failed",
        application_id=attempt.app_id,
        item_id=attempt.item_id,
        job_id=attempt.job_id,
        error=attempt.error,
    )
    db.session.add(incident)
    subject, body = provisioning_failed_message(
        attempt.app_name, attempt.user["username"], attempt.item_id, attempt.error or "?"
    )
    attempt.mail.append(([attempt.notification_email], subject, body, incident.id))


def _check_quarantine(attempt: Attempt) -> None:
    db.session.flush()
    app = db.session.get(Application, attempt.app_id)
    counts = connected_apps.check_quarantine(app)
    if counts is not None:
        subject, body = quarantine_message(app.name, app.key, *counts)
        recipients = [*connected_apps.admin_addresses(), attempt.notification_email]
        attempt.mail.append((recipients, subject, body, None))


def send_mail(attempt: Attempt, mailer: Mailer | None) -> None:
    """An after-commit hook: tell people, and note (in a unit of its own) on the incident
    that they were told."""
    if mailer is None or not attempt.mail:
        return
    with unit_of_work():
        for recipients, subject, body, incident_id in attempt.mail:
            if mailer.send(recipients, subject, body) and incident_id:
                incident = db.session.get(Incident, incident_id)
                if incident is not None:
                    incident.notified_at = utcnow()
