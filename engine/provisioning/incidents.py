"""What admins do about provisioning: read incidents and the log, retry, resolve."""

from collections.abc import Sequence

from sqlalchemy import select

from engine.audit import trail
from engine.db import db
from engine.directory.authentication import require_admin
from engine.errors import Conflict, Invalid, NotFound
from engine.models import Application, HumanTask, Incident, ProvisioningLog, User
from engine.provisioning import connected_apps
from engine.tasks import actions
from engine.workflow import faults

STATUSES = ("open", "resolved")
MAX_LOG_ROWS = 500


def _app_id(key: str | None) -> str | None:
    return connected_apps.application(key).id if key else None


def list_incidents(
    admin: User, status: str | None = "open", application: str | None = None
) -> Sequence[Incident]:
    """Incidents, newest first; `status` None lists every one."""
    require_admin(admin)
    query = select(Incident).order_by(Incident.created_at.desc(), Incident.id)
    if status is not None:
        if status not in STATUSES:
            raise Invalid(f"status must be one of {', '.join(STATUSES)}", field="status")
        query = query.where(Incident.status == status)
    if application:
        query = query.where(Incident.application_id == _app_id(application))
    return db.session.scalars(query).all()


def get_incident(admin: User, incident_id: str) -> Incident:
    require_admin(admin)
    incident = db.session.get(Incident, incident_id)
    if incident is None:
        raise NotFound("no such incident")
    return incident


def resolve_incident(admin: User, incident_id: str, comment: str | None = None) -> Incident:
    """Close an incident someone dealt with outside accessflow."""
    incident = get_incident(admin, incident_id)
    if incident.status != "open":
        raise Conflict(f"the incident is already {incident.status}")
    if incident.kind == "quarantine":
        raise Conflict("a quarantine ends by resuming the application", action="resume")
    incident.close(comment or "resolved by an administrator", admin.id)
    if incident.kind == "workflow_failed":
        faults.close_failed_item(incident)
    trail.record("incident_resolved", admin.id, incident_id=incident.id)
    return incident


def retry_incident(admin: User, incident_id: str, comment: str | None = None) -> Incident:
    """Try again: a failed provisioning goes back to its job, a quarantine is lifted, a failed
    workflow resumes from its last saved state. The incident closes with the retry, or neither
    happens (one unit)."""
    incident = get_incident(admin, incident_id)
    if incident.status != "open":
        raise Conflict(f"the incident is already {incident.status}")
    if incident.kind == "quarantine":
        connected_apps.resume_application(admin, incident.application.key, comment)
        return incident  # resolved by the resume, in this session
    if incident.kind == "workflow_failed":
        incident.close(comment or "retried", admin.id)
        faults.resume_instance(admin, incident, comment)
        return incident
    task = db.session.scalar(
        select(HumanTask).where(
            HumanTask.item_id == incident.item_id,
            HumanTask.kind == "failed_provisioning",
            HumanTask.status == "open",
        )
    )
    if task is None:
        raise Conflict("the item no longer waits on a failed auto-provision task")
    incident.close(comment or "retried", admin.id)
    actions.complete_task(admin, task.id, "retry", comment=comment)
    return incident


def provisioning_log(
    admin: User,
    application: str | None = None,
    item_id: str | None = None,
    outcome: str | None = None,
    before: int | None = None,
    limit: int = 100,
) -> Sequence[ProvisioningLog]:
    """Operations against targets, newest first, filtered; `before`: rows older than that id."""
    require_admin(admin)
    query = select(ProvisioningLog).order_by(ProvisioningLog.id.desc())
    if application:
        query = query.where(ProvisioningLog.application_id == _app_id(application))
    if item_id:
        query = query.where(ProvisioningLog.item_id == item_id)
    if outcome:
        query = query.where(ProvisioningLog.outcome == outcome)
    if before:
        query = query.where(ProvisioningLog.id < before)
    return db.session.scalars(query.limit(max(1, min(limit, MAX_LOG_ROWS)))).all()


def quarantined_applications(admin: User) -> Sequence[Application]:
    require_admin(admin)
    return db.session.scalars(
        select(Application).where(Application.quarantined_at.is_not(None))
    ).all()
