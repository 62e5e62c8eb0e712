"""What workflow designers do: read deployed BPMN, check a changed file, deploy it as a version."""

from sqlalchemy import func, select

from engine import audit, bpmn
from engine.db import db
from engine.errors import NotAllowed, NotFound
from engine.models import ProcessInstance, User, WorkflowVersion


def _guard_designer(user: User) -> None:
    if not user.is_designer:
        raise NotAllowed("only workflow designers (groups designers or admins) may do this")


def list_workflows(user: User) -> list[WorkflowVersion]:
    """The newest version of every deployed process, by key."""
    _guard_designer(user)
    newest = (
        select(WorkflowVersion.key, func.max(WorkflowVersion.version).label("version"))
        .group_by(WorkflowVersion.key)
        .subquery()
    )
    return db.session.scalars(
        select(WorkflowVersion)
        .join(
            newest,
            (WorkflowVersion.key == newest.c.key) & (WorkflowVersion.version == newest.c.version),
        )
        .order_by(WorkflowVersion.key)
    ).all()


def list_workflow_versions(user: User, key: str) -> list[dict]:
    """Every version of a process, newest first, with who deployed it and how many items run it."""
    _guard_designer(user)
    versions = db.session.scalars(
        select(WorkflowVersion)
        .where(WorkflowVersion.key == key)
        .order_by(WorkflowVersion.version.desc())
    ).all()
    if not versions:
        raise NotFound(f"no workflow {key!r} is deployed")
    running = dict(
        db.session.execute(
            select(ProcessInstance.workflow_version_id, func.count())
            .where(
                ProcessInstance.workflow_version_id.in_([v.id for v in versions]),
                ProcessInstance.status == "running",
            )
            .group_by(ProcessInstance.workflow_version_id)
        ).all()
    )
    deployers = {v.deployed_by_id for v in versions if v.deployed_by_id}
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(deployers)))}
    return [
        {"version": v, "deployed_by": users.get(v.deployed_by_id), "running": running.get(v.id, 0)}
        for v in versions
    ]


def get_workflow_version(user: User, key: str, number: int | None = None) -> WorkflowVersion:
    """One version of a process (the newest when `number` is None)."""
    _guard_designer(user)
    if number is None:
        version = bpmn.latest_version(key)
    else:
        version = db.session.scalar(
            select(WorkflowVersion).where(
                WorkflowVersion.key == key, WorkflowVersion.version == number
            )
        )
    if version is None:
        raise NotFound(f"no version {number or ''} of workflow {key!r}".replace("  ", " "))
    return version


def validate_workflow(user: User, content: str) -> str:
    """Check a BPMN file as deploy would; return its process key or raise Invalid(element=...)."""
    _guard_designer(user)
    key, _spec, _subprocesses = bpmn.parse_bpmn(content)
    return key


def deploy_workflow(user: User, content: str) -> tuple[WorkflowVersion, bool]:
    """Deploy a BPMN file as the next version; (version, False) when it equals the newest one.

    Running items keep the version they started on; new items start on the newest.
    """
    _guard_designer(user)
    key = bpmn.parse_bpmn(content)[0]
    before = bpmn.latest_version(key)
    version = bpmn.deploy(content, deployed_by_id=user.id)
    created = before is None or version.id != before.id
    if created:
        audit.record("workflow_deployed", user.id, key=version.key, version=version.version)
    db.session.commit()
    return version, created
