"""What workflow designers do: read deployed BPMN, check a changed file, deploy it as a draft,
and review (approve or reject) someone else's draft. Operators deploy directly from the CLI."""

from collections.abc import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.orm.attributes import set_committed_value

from engine.audit import trail
from engine.db import db, utcnow
from engine.errors import Conflict, Invalid, NotAllowed, NotFound
from engine.models import ProcessInstance, User, WorkflowVersion
from engine.workflow import bpmn, lanes
from engine.workflow.diff import diff_workflows


def _guard_designer(user: User) -> None:
    if not user.is_designer:
        raise NotAllowed("only workflow designers (groups designers or admins) may do this")


def list_workflows(user: User) -> Sequence[WorkflowVersion]:
    """The version new items start on (the newest active one) of every deployed process."""
    _guard_designer(user)
    newest = (
        select(WorkflowVersion.key, func.max(WorkflowVersion.version).label("version"))
        .where(WorkflowVersion.status == "active")
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
    users = _people(versions)
    in_use = bpmn.latest_version(key)
    return [
        {
            "version": v,
            "deployed_by": users.get(v.deployed_by_id),
            "reviewed_by": users.get(v.reviewed_by_id),
            "running": running.get(v.id, 0),
            "in_use": in_use is not None and v.id == in_use.id,
        }
        for v in versions
    ]


def _people(versions) -> dict[str, User]:
    """The deployers and reviewers of these versions, by id, in one query."""
    ids = {v.deployed_by_id for v in versions} | {v.reviewed_by_id for v in versions}
    ids.discard(None)
    return {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))}


def get_workflow_version(user: User, key: str, number: int | None = None) -> WorkflowVersion:
    """One version of a process (the one new items start on when `number` is None)."""
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
    lanes.check_deploy(key, content if isinstance(content, str) else content.decode())
    return key


def deploy_workflow(user: User, content: str) -> tuple[WorkflowVersion, bool]:
    """Deploy a BPMN file as a draft; (version, False) when it equals the active or pending one.

    The draft never runs until another designer or an admin approves it; it supersedes any
    older draft of the process. Running items keep the version they started on.
    """
    _guard_designer(user)
    key = bpmn.parse_bpmn(content)[0]
    active, pending = bpmn.latest_version(key), _pending_draft(key)
    version = bpmn.deploy(content, deployed_by_id=user.id, draft=True)
    created = version not in (active, pending)
    if created:
        trail.record(
            "workflow_draft_deployed",
            user.id,
            key=version.key,
            version=version.version,
            superseded=pending.version if pending else None,
        )
    return version, created


def deploy_as_operator(content: str) -> tuple[WorkflowVersion, bool]:
    """`accessflow deploy`: an operator with shell access deploys a version active at once."""
    key = bpmn.parse_bpmn(content)[0]
    before = bpmn.latest_version(key)
    version = bpmn.deploy(content)
    created = before is None or version.id != before.id
    if created:
        trail.record("workflow_deployed", None, key=version.key, version=version.version)
    return version, created


def _pending_draft(key: str) -> WorkflowVersion | None:
    return db.session.scalar(
        select(WorkflowVersion).where(WorkflowVersion.key == key, WorkflowVersion.status == "draft")
    )


def list_drafts(user: User) -> list[dict]:
    """Drafts awaiting a second person, oldest first, with who deployed each."""
    _guard_designer(user)
    drafts = db.session.scalars(
        select(WorkflowVersion)
        .where(WorkflowVersion.status == "draft")
        .order_by(WorkflowVersion.deployed_at, WorkflowVersion.key)
    ).all()
    users = _people(drafts)
    return [{"version": v, "deployed_by": users.get(v.deployed_by_id)} for v in drafts]


def review_workflow_version(user: User, key: str, number: int) -> dict:
    """A version beside the one in use: its diff, who deployed and reviewed it, who may act."""
    version = get_workflow_version(user, key, number)
    in_use = bpmn.latest_version(key)
    diff = diff_workflows(in_use.bpmn_xml if in_use else None, version.bpmn_xml)
    users = _people([version])
    return {
        "version": version,
        "in_use": in_use,
        "diff": diff,
        "deployed_by": users.get(version.deployed_by_id),
        "reviewed_by": users.get(version.reviewed_by_id),
        "may_approve": version.status == "draft" and version.deployed_by_id != user.id,
    }


def approve_draft(user: User, key: str, number: int, comment: str | None = None):
    """Make a draft the version new items start on; never by the designer who deployed it."""
    version = _draft(user, key, number)
    if version.deployed_by_id == user.id:
        raise NotAllowed("you deployed this draft: another designer or an admin must approve it")
    bpmn.parse_bpmn(version.bpmn_xml)  # the checks may have tightened since it was deployed
    _decide(user, version, "active", comment)
    trail.record("workflow_approved", user.id, comment=comment, key=key, version=number)
    return version


def reject_draft(user: User, key: str, number: int, comment: str):
    """Refuse a draft with a reason; it never runs. Its deployer may withdraw it this way."""
    version = _draft(user, key, number)
    if not (comment or "").strip():
        raise Invalid("say why the draft is rejected", field="comment")
    _decide(user, version, "rejected", comment.strip())
    trail.record("workflow_rejected", user.id, comment=comment.strip(), key=key, version=number)
    return version


def _draft(user: User, key: str, number: int) -> WorkflowVersion:
    version = get_workflow_version(user, key, number)
    if version.status != "draft":
        raise Conflict(f"{key} version {number} is {version.status}, not a draft awaiting review")
    return version


def _decide(user: User, version: WorkflowVersion, status: str, comment: str | None) -> None:
    """One conditional UPDATE: of two reviewers (or a review and a newer deploy) one wins."""
    now = utcnow()
    won = db.session.execute(
        update(WorkflowVersion)
        .where(WorkflowVersion.id == version.id, WorkflowVersion.status == "draft")
        .values(status=status, reviewed_by_id=user.id, reviewed_at=now, review_comment=comment)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not won:
        raise Conflict(f"{version.key} version {version.version} was reviewed or superseded")
    for name, value in (
        ("status", status),
        ("reviewed_by_id", user.id),
        ("reviewed_at", now),
        ("review_comment", comment),
    ):
        set_committed_value(version, name, value)
