"""Running one provisioning job: the call to the target, then recording it and advancing the item.

The call happens with no database transaction open. Its result is then written in one
transaction: the job row (only if this worker still holds its lease), the log row, the account,
the service task completed with `provisioning = {"status", "external_id", "linked", "error"}`,
the workflow advanced and its new waits mirrored. Calls are at-least-once: every attempt lets
the connector look the account up first, so a retry after a lost answer links, never duplicates.
"""

import json
import logging
import threading
import time
from dataclasses import dataclass, field

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError

from connectors import ConnectorError, connector_for
from engine import audit, connected_apps, instances, jobs, runtime
from engine.db import db, new_id, utcnow
from engine.errors import DomainError
from engine.models import (
    Account,
    Application,
    Incident,
    ProcessInstance,
    ProvisioningJob,
    ProvisioningLog,
)
from engine.models.directory import SECRET_SETTINGS
from engine.notifications import Mailer, provisioning_failed_message, quarantine_message

log = logging.getLogger(__name__)
STALE_RETRY_SECONDS = 1.0


@dataclass
class Attempt:
    """What a worker read about a job before calling the target (plain values, no ORM rows)."""

    job_id: str
    worker_id: str
    number: int
    operation: str
    instance_id: str
    spiff_task_id: str
    item_id: str
    app_id: str
    app_key: str
    app_name: str
    settings: dict
    user: dict
    notification_email: str | None
    started: float = 0.0
    outcome: str = ""
    external_id: str | None = None
    linked: bool = False
    error: str | None = None
    retryable: bool = False
    retry_after: float | None = None
    http_status: int | None = None
    duration_ms: int = 0
    mail: list = field(default_factory=list)
    open_incident: bool = True  # unknown until prefetched: look
    looked_up: bool = False  # the batch lookup found no account: create without asking again
    found: dict | None = None  # the batch lookup found this account: link it


class LeaseLost(Exception):
    """Another worker took the job over (this worker's lease expired)."""


def run_job(job_id: str, worker_id: str, mailer: Mailer | None = None) -> str:
    """Run a job this worker holds; returns the outcome (created, linked, retrying, ...)."""
    outcomes = run_jobs([job_id], worker_id, mailer)
    return outcomes[0] if outcomes else "lost"


def run_jobs(job_ids, worker_id: str, mailer: Mailer | None = None, pool=None) -> list[str]:
    """Run jobs this worker holds: one lookup per application for all of them, the calls
    (in `pool`, an executor, when given), then their results in one transaction."""
    attempts = _read(job_ids, worker_id)
    _call_targets(attempts, pool)
    try:
        _prefetch(attempts)
        with db.session.no_autoflush:  # one flush at the commit: the inserts go in batches
            for attempt in attempts:
                _record(attempt)
        db.session.commit()
    except (LeaseLost, StaleDataError, DomainError):
        db.session.rollback()  # one bad apple: record them one by one
        for attempt in attempts:
            attempt.mail.clear()
            _record_alone(attempt)
    for attempt in attempts:
        _send_mail(attempt, mailer)
        log.info(
            "job %s (%s, attempt %d): %s%s",
            attempt.job_id,
            attempt.app_key,
            attempt.number,
            attempt.outcome,
            f": {attempt.error}" if attempt.error else "",
        )
    return [attempt.outcome for attempt in attempts]


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


def _record_alone(attempt: Attempt) -> None:
    try:
        _record(attempt)
        db.session.commit()
    except LeaseLost:
        db.session.rollback()
        _abandon(attempt, "lease lost to another worker")
        db.session.commit()
    except StaleDataError:
        # Someone changed the item meanwhile: try again soon; the lookup will link the account.
        db.session.rollback()
        _abandon(attempt, "the item changed meanwhile")
        jobs.retry_later(attempt.job_id, attempt.worker_id, STALE_RETRY_SECONDS, attempt.error)
        db.session.commit()
    except DomainError as err:  # the workflow failed after the task (a designer's error)
        db.session.rollback()
        _abandon(attempt, err.detail)
        jobs.release(attempt.job_id, attempt.worker_id, status="failed", last_error=attempt.error)
        db.session.commit()


def _abandon(attempt: Attempt, reason: str) -> None:
    attempt.mail.clear()
    attempt.outcome = "abandoned"
    attempt.error = ((attempt.error + "; ") if attempt.error else "") + reason
    attempt.error = attempt.error[:500]
    _log_row(attempt)


def _read(job_ids, worker_id: str) -> list[Attempt]:
    """The jobs still leased to this worker, read in one query; no transaction stays open."""
    db.session.expire_all()  # objects outlive commits here: read what the rows hold now
    rows = db.session.scalars(
        select(ProvisioningJob)
        .where(
            ProvisioningJob.id.in_(list(job_ids)),
            ProvisioningJob.status == "running",
            ProvisioningJob.lease_owner == worker_id,
        )
        .options(joinedload(ProvisioningJob.item))
        .order_by(ProvisioningJob.next_run_at, ProvisioningJob.id)
    ).all()
    attempts = [_attempt(job, worker_id) for job in rows]
    db.session.rollback()
    return attempts


def _attempt(job: ProvisioningJob, worker_id: str) -> Attempt:
    item = job.item
    app = item.application
    return Attempt(
        job_id=job.id,
        worker_id=worker_id,
        number=job.attempts,
        operation=(job.params or {}).get("operation") or "create",
        instance_id=job.instance_id,
        spiff_task_id=job.spiff_task_id,
        item_id=item.id,
        app_id=app.id,
        app_key=app.key,
        app_name=app.name,
        settings=dict(app.connector_settings or {}),
        user=item.beneficiary.as_directory_entry(),
        notification_email=app.notification_email,
    )


# One connector per thread and application: its HTTP session keeps the connection alive.
_local = threading.local()


def _connector(attempt: Attempt):
    key = (attempt.app_id, json.dumps(attempt.settings, sort_keys=True, default=str))
    cache = _local.__dict__.setdefault("connectors", {})
    if key not in cache:
        for old in [k for k in cache if k[0] == attempt.app_id]:
            cache.pop(old).close()
        cache[key] = connector_for(attempt.settings)
    return cache[key]


def _call_targets(attempts: list[Attempt], pool=None) -> None:
    """Look every `create` up with one query per application, then make the calls."""
    creates: dict[str, list[Attempt]] = {}
    for attempt in attempts:
        if attempt.operation == "create":
            creates.setdefault(attempt.app_id, []).append(attempt)
    for group in creates.values():
        if len(group) < 2:
            continue
        try:
            found = _connector(group[0]).find_accounts([a.user for a in group])
        except Exception:  # noqa: S112 - each attempt then looks its own account up
            continue
        for attempt, account in zip(group, found, strict=True):
            attempt.looked_up, attempt.found = True, account
    if pool is None or len(attempts) < 2:
        for attempt in attempts:
            _call_target(attempt)
    else:
        list(pool.map(_call_target, attempts))


def _call_target(attempt: Attempt) -> None:
    attempt.started = time.perf_counter()
    try:
        connector = _connector(attempt)
        if attempt.operation == "create" and attempt.found is not None:
            account = {**attempt.found, "linked": True}
        elif attempt.operation == "create":
            account = connector.create_account(attempt.user, looked_up=attempt.looked_up)
        elif attempt.operation == "update":
            found = connector.find_account(attempt.user)
            if found is None:
                raise ConnectorError("no account in the target matches the user: nothing to update")
            account = {**connector.update_account(found["external_id"], attempt.user)}
            account["linked"] = True
        else:
            raise ConnectorError(f"unknown provisioning operation {attempt.operation[:50]!r}")
    except ConnectorError as err:
        attempt.error = _scrub(err.message, attempt.settings)
        attempt.retryable, attempt.retry_after = err.retryable, err.retry_after
        attempt.http_status = err.status
    except Exception as err:  # a bug or an unforeseen failure: retried, and logged scrubbed
        attempt.error = _scrub(f"internal error: {type(err).__name__}: {err}", attempt.settings)
        attempt.retryable = True
        log.warning("job %s: %s", attempt.job_id, attempt.error)
    else:
        attempt.external_id = account["external_id"]
        attempt.linked = bool(account.get("linked"))
        attempt.outcome = {"create": "linked" if attempt.linked else "created"}.get(
            attempt.operation, "updated"
        )
    attempt.duration_ms = int((time.perf_counter() - attempt.started) * 1000)
    if attempt.error is not None:
        attempt.error = attempt.error[:500]
        policy = jobs.RetryPolicy.from_settings(attempt.settings)
        give_up = not attempt.retryable or attempt.number >= policy.max_attempts
        attempt.outcome = "failed" if give_up else "retrying"


def _scrub(text: str, settings: dict) -> str:
    """Remove every secret setting's value from a text bound for a log, a row or an email."""
    for key in SECRET_SETTINGS:
        value = settings.get(key)
        if isinstance(value, str) and value:
            text = text.replace(value, "***")
    return text


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
        attempt.outcome, attempt.error = "abandoned", "the item no longer waits on this job"
        if not jobs.release(attempt.job_id, attempt.worker_id, status="cancelled"):
            raise LeaseLost(attempt.job_id)
        _log_row(attempt)
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
        _record_account(item, attempt)
        if attempt.open_incident:
            instances.close_incidents(item.id, "provisioned on a later attempt")
        audit.record(
            "provisioned",
            None,
            item=item,
            job_id=attempt.job_id,
            external_id=attempt.external_id,
            linked=attempt.linked,
        )
    else:
        _open_incident(attempt)
        audit.record(
            "provisioning_failed", None, item=item, job_id=attempt.job_id, error=attempt.error
        )
        _check_quarantine(attempt)
    instances.save(instance, workflow)
    instances.sync(instance, workflow)
    return None


def _record_account(item, attempt: Attempt) -> None:
    # A freshly created target account cannot be on record yet; a linked one may be.
    account = (
        None
        if attempt.outcome == "created"
        else db.session.scalar(
            select(Account).where(
                Account.user_id == item.beneficiary_id,
                Account.application_id == item.application_id,
                Account.external_id == attempt.external_id,
                Account.ended_at.is_(None),
            )
        )
    )
    if account is None:
        account = Account(
            id=new_id(),
            user_id=item.beneficiary_id,
            application_id=item.application_id,
            external_id=attempt.external_id,
            request_item_id=item.id,
        )
        db.session.add(account)
    item.account_id = account.id


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


def _send_mail(attempt: Attempt, mailer: Mailer | None) -> None:
    """After the commit: tell people, and note on the incident that they were told."""
    if mailer is None or not attempt.mail:
        return
    for recipients, subject, body, incident_id in attempt.mail:
        if mailer.send(recipients, subject, body) and incident_id:
            incident = db.session.get(Incident, incident_id)
            if incident is not None:
                incident.notified_at = utcnow()
    db.session.commit()
