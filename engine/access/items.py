"""Items no cart asked for: a group grant, an admin's assignment, a leaver's removal.

They run BPMN like every change: the application names the process for each origin (and
kind), by default the shipped `grant` flow (no approval) and `removal` flow.
"""

from collections.abc import Iterable

from sqlalchemy import select

from engine.access import assignments
from engine.access.policy import workflow_for
from engine.audit import trail
from engine.db import db
from engine.errors import Invalid
from engine.models import Application, RequestItem, User, WorkflowVersion
from engine.provisioning import accounts
from engine.requests import items
from engine.requests.drafts import ItemDraft
from engine.workflow import faults, instances
from engine.workflow.batch import StartBatch
from engine.workflow.bpmn import latest_version


def open_item(user_id: str, application_id: str) -> RequestItem | None:
    return db.session.scalar(
        select(RequestItem).where(RequestItem.open_key == f"{user_id}:{application_id}")
    )


def item_draft(
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
) -> ItemDraft:
    """The item a change opens for `person`. The requester is the person who made the change
    (the beneficiary when nobody did, as for an import): the rule that nobody decides an item
    they asked for, or that is for them, holds."""
    return ItemDraft(
        requester=actor or person,
        beneficiary=person,
        application=app,
        account_mode=account_mode,
        origin=origin,
        role=role,
        assignment_id=assignment_id,
        account_id=account_id,
        justification=reason,
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
) -> RequestItem:
    """Open an item for `person` (see `item_draft`) and start its process; the caller made
    sure the slot is free."""
    item = item_draft(
        person,
        app,
        origin=origin,
        account_mode=account_mode,
        actor=actor,
        reason=reason,
        role=role,
        assignment_id=assignment_id,
    )
    return _start(item, _version(item, {}))


def start_items(drafts: Iterable[ItemDraft]) -> None:
    """Open many items and start their processes (a group grant), each workflow looked up once
    and the rows written with one INSERT per table; the caller made sure the slots are free."""
    batch, versions = StartBatch(), dict[str, WorkflowVersion | None]()
    for draft in drafts:
        version = _version(draft, versions)
        if not batch.start(draft, version, origin=draft.origin):
            _start(draft, version)  # it ends or fails at once: the ordinary path handles it
    batch.write()


def _version(draft: ItemDraft, versions: dict[str, WorkflowVersion | None]) -> WorkflowVersion:
    key = workflow_for(draft.application, draft.origin, draft.kind)
    if key not in versions:
        with db.session.no_autoflush:
            versions[key] = latest_version(key)
    version = versions[key]
    if version is None:
        name = draft.application.name
        raise Invalid(f"no workflow {key!r} is deployed for {name}", field="application")
    return version


def _start(draft: ItemDraft, version: WorkflowVersion) -> RequestItem:
    item = draft.build()
    db.session.add(item)
    trail.record(
        "submitted", item.requester_id, item=item, comment=item.justification, origin=item.origin
    )
    instance, fault = instances.start_instance(item, version)
    if fault is not None:
        db.session.flush()  # the item's row first: no relationship orders its incident after it
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
