"""When an instance's workflow fails: stop it, tell people, and let an admin resume or close it.

A failing instance must never hold the others back: the worker records the fault in a fresh
transaction and moves on. The failed instance keeps its last saved state, so a retry resumes it
from there (its timers re-armed, its jobs queued again, its human tasks reopened).
"""

import logging
import re
import traceback

from sqlalchemy import select
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from engine.audit import trail
from engine.audit.notifications import Mailer, workflow_failed_message
from engine.db import db, new_id, utcnow
from engine.errors import Conflict, DomainError
from engine.models import (
    HumanTask,
    Incident,
    ProcessInstance,
    ProvisioningJob,
    RequestItem,
    User,
)
from engine.models.directory import SECRET_SETTINGS
from engine.provisioning.connected_apps import admin_addresses
from engine.unit_of_work import unit_of_work
from engine.workflow import instances, runtime

# The database itself failed (down, locked, a deadlock): not the instance's fault, so the
# caller stops the batch and the next poll tries again.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, PoolTimeout)
MAX_ERROR_CHARS = 300
_SECRET_PATTERNS = (
    re.compile(r"(?i)\b(bearer|basic)\s+[^\s'\",;]+"),
    re.compile(
        r"(?i)\b(token|password|passwd|secret|api[_-]?key|client_secret|authorization)"
        r"(['\"]?\s*[:=]\s*['\"]?)[^\s'\",;&]+"
    ),
)


def describe(error: BaseException) -> str:
    """A one-line account of an exception: a domain error's own detail, else its type and text."""
    if isinstance(error, DomainError):
        return error.detail
    return f"{type(error).__name__}: {error}"


def scrub(text: str, secrets=()) -> str:
    """`text` without the given secret values nor anything that looks like a credential."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = _SECRET_PATTERNS[0].sub(lambda m: f"{m.group(1)} ***", text)
    return _SECRET_PATTERNS[1].sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)


def summarize(text: str, secrets=()) -> str:
    """The first line of `text`, without credentials, at most MAX_ERROR_CHARS long."""
    lines = (text or "").strip().splitlines()
    line = scrub(lines[0] if lines else "unknown error", secrets)
    return line if len(line) <= MAX_ERROR_CHARS else line[: MAX_ERROR_CHARS - 1] + "…"


def log_exception(logger: logging.Logger, error: BaseException, message: str, *args, secrets=()):
    """Log `message` with the full traceback of `error`, credentials scrubbed out."""
    trace = scrub("".join(traceback.format_exception(error)), secrets)
    logger.error(message + "\n%s", *args, trace.rstrip())


def secret_values(settings: dict | None) -> list[str]:
    """The values of an application's secret connector settings."""
    return [str(v) for k, v in (settings or {}).items() if k in SECRET_SETTINGS and v]


def record_workflow_fault(
    instance: ProcessInstance, error: str, job_id: str | None = None
) -> Incident:
    """Stop `instance` (status `failed`, no timer), fail its item, cancel its open tasks and
    pending jobs, and open a `workflow_failed` incident; the caller commits.

    `error` is stored shortened and without credentials; log the full exception yourself."""
    item = instance.item
    reason = summarize(error, secret_values(item.application.connector_settings))
    instance.status, instance.next_timer_at, instance.updated_at = "failed", None, utcnow()
    item.status, item.outcome_reason = "failed", reason
    now = utcnow()
    for task in db.session.scalars(
        select(HumanTask).where(HumanTask.instance_id == instance.id, HumanTask.status == "open")
    ):
        task.status, task.completed_at = "cancelled", now
    for job in db.session.scalars(
        select(ProvisioningJob).where(
            ProvisioningJob.instance_id == instance.id, ProvisioningJob.status == "pending"
        )
    ):
        job.status, job.last_error = "cancelled", "the workflow failed"
    instances.close_incidents(item.id, "superseded by a workflow failure")
    incident = Incident(
        id=new_id(),
        kind="workflow_failed",
        application_id=item.application_id,
        item_id=item.id,
        job_id=job_id,
        error=reason,
    )
    db.session.add(incident)
    trail.record("workflow_failed", None, item=item, comment=reason, incident_id=incident.id)
    return incident


def resume_instance(admin: User, incident: Incident, comment: str | None = None) -> None:
    """Put a failed instance back to running from its last saved state; the caller commits.

    Its timers are re-armed (one already due fires at the next poll), a service task it waits
    on gets a new job, and its ready human tasks are reopened."""
    instance = db.session.scalar(
        select(ProcessInstance).where(ProcessInstance.item_id == incident.item_id)
    )
    if instance is None or instance.status != "failed" or not instance.item.is_open:
        raise Conflict("the item's workflow is no longer failed: nothing to retry")
    workflow = runtime.load_workflow(instance)
    instance.status, instance.item.outcome_reason = "running", None
    instances.save(instance, workflow)
    instances.sync(instance, workflow)
    trail.record(
        "workflow_resumed", admin.id, item=instance.item, comment=comment, incident_id=incident.id
    )


def close_failed_item(incident: Incident) -> None:
    """The item stays failed for good, and no longer blocks a new request; the caller commits."""
    item = db.session.get(RequestItem, incident.item_id) if incident.item_id else None
    if item is not None and item.is_open and item.status == "failed":
        item.finish("failed", item.outcome_reason)


def mail_for(incident: Incident) -> tuple[list, str, str, str]:
    """(recipients, subject, body, incident id): the application's address and the admins."""
    item = db.session.get(RequestItem, incident.item_id)
    subject, body = workflow_failed_message(
        incident.application.name, item.beneficiary.username, item.id, incident.error or "?"
    )
    return [incident.application.notification_email, *admin_addresses()], subject, body, incident.id


def notify(incident_id: str, mailer: Mailer | None) -> None:
    """An after-commit hook: send the incident's mail, and note (in a unit of its own) that
    people were told."""
    if mailer is None:
        return
    with unit_of_work():
        incident = db.session.get(Incident, incident_id)
        if incident is None:
            return
        recipients, subject, body, _ = mail_for(incident)
        if mailer.send(recipients, subject, body):
            incident.notified_at = utcnow()
