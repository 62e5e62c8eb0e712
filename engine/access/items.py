"""Items no cart asked for: a group grant, an admin's assignment, a leaver's removal.

They run BPMN like every change: the application names the process for each origin (and
kind), by default the shipped `grant` flow (no approval) and `removal` flow.
"""

from sqlalchemy import select

from engine.access import assignments
from engine.access.policy import workflow_for
from engine.audit import trail
from engine.db import db, new_id
from engine.errors import Invalid
from engine.models import Application, RequestItem, User, WorkflowVersion
from engine.provisioning import accounts
from engine.requests import items
from engine.workflow import faults, instances
from engine.workflow.bpmn import latest_version


def open_item(user_id: str, application_id: str) -> RequestItem | None:
    return db.session.scalar(
        select(RequestItem).where(RequestItem.open_key == f"{user_id}:{application_id}")
    )


def start_item(
    person: User,
    app: Application,
    *,
    origin: str,
    account_mode: str,
    actor: User | None = None,
    reason: str | None = None,
    role: str | None = None,
    assignment_id: str | None = None,
    account_id: str | None = None,
    versions: dict[str, WorkflowVersion | None] | None = None,
) -> RequestItem:
    """Open an item for `person` and start its process; the caller made sure the slot is free.

    The requester is the person who made the change (the beneficiary when nobody did, as for
    an import): the rule that nobody decides an item they asked for, or that is for them, holds.
    `versions` caches the workflow lookups of a batch."""
    requester = actor or person
    item = RequestItem(
        id=new_id(),
        request_id=None,
        requester_id=requester.id,
        requester=requester,
        beneficiary_id=person.id,
        beneficiary=person,
        application_id=app.id,
        application=app,
        account_mode=account_mode,
        origin=origin,
        role=role,
        assignment_id=assignment_id,
        account_id=account_id,
        justification=reason,
        open_key=f"{person.id}:{app.id}",
    )
    db.session.add(item)
    trail.record("submitted", requester.id, item=item, comment=reason, origin=origin)
    key = workflow_for(app, origin, item.kind)
    versions = {} if versions is None else versions
    if key not in versions:
        with db.session.no_autoflush:
            versions[key] = latest_version(key)
    if versions[key] is None:
        raise Invalid(f"no workflow {key!r} is deployed for {app.name}", field="application")
    instance, fault = instances.start_instance(item, versions[key])
    if fault is not None:
        faults.record_workflow_fault(instance, fault.detail)
    return item


def remove_if_unassigned(
    person: User, app: Application, *, origin: str, actor: User | None, reason: str
) -> RequestItem | None:
    """When no assignment is left for the person in the app, take the access away: an open
    item in the slot is cancelled, and the accounts on record are removed by a removal item."""
    if assignments.active(person.id, app.id):
        return None
    pending = open_item(person.id, app.id)
    if pending is not None:
        if pending.kind == "remove":
            return pending  # already on its way out
        items.stop_item(pending, actor.id if actor else None, f"no longer assigned: {reason}")
        db.session.flush()  # the slot is free for the removal below
    if not accounts.active_accounts(person.id, app.id):
        return None  # nothing in the target to take away (an sso app, or never provisioned)
    return start_item(person, app, origin=origin, account_mode="remove", actor=actor, reason=reason)
