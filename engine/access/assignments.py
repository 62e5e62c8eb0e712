"""Assignments: who should hold which application, from which sources, since and until when.

A row is never edited: granting starts one, a change ends it (who, when, why). Access goes only
when a person's last source for an application ends.
"""

from collections.abc import Sequence

from sqlalchemy import select

from engine.audit import trail
from engine.db import db, new_id, utcnow
from engine.models import Application, Assignment, RequestItem, User
from engine.models.lifecycle import active_key


def active(user_id: str, application_id: str | None = None) -> Sequence[Assignment]:
    """A person's active assignments (in one application, when given), oldest first."""
    query = select(Assignment).where(Assignment.user_id == user_id, Assignment.ended_at.is_(None))
    if application_id is not None:
        query = query.where(Assignment.application_id == application_id)
    return db.session.scalars(query.order_by(Assignment.created_at, Assignment.id)).all()


def find(user_id: str, application_id: str, source: str, source_id=None) -> Assignment | None:
    """The active assignment in one slot (person, application, source), if any."""
    return db.session.scalar(
        select(Assignment).where(
            Assignment.active_key == active_key(user_id, application_id, source, source_id)
        )
    )


def grant(
    user: User,
    app: Application,
    source: str,
    *,
    source_id: str | None = None,
    role: str | None = None,
    actor_id: str | None = None,
    reason: str | None = None,
    item: RequestItem | None = None,
    ends_at=None,
) -> Assignment:
    """Start an assignment, or return the one already active in that slot (same role and end).

    A new role or end date from the same source ends the old row and starts a new one, so the
    history says who moved the end (a renewal) and when."""
    existing = find(user.id, app.id, source, source_id)
    if existing is not None and existing.role == role and existing.ends_at == ends_at:
        return existing
    if existing is not None:
        end(existing, actor_id, _replaced(existing, role, ends_at))
    assignment = Assignment(
        id=new_id(),
        user_id=user.id,
        application_id=app.id,
        application=app,
        role=role,
        source=source,
        source_id=source_id,
        active_key=active_key(user.id, app.id, source, source_id),
        item_id=item.id if item is not None else None,
        created_by_id=actor_id,
        reason=reason,
        ends_at=ends_at,
    )
    db.session.add(assignment)
    db.session.flush()  # the slot's unique key refuses a concurrent twin now, not at commit
    trail.record(
        "access_assigned",
        actor_id,
        item=item,
        comment=reason,
        assignment_id=assignment.id,
        user=user.username,
        application=app.key,
        source=source,
        role=role,
        ends_at=ends_at.isoformat() if ends_at is not None else None,
    )
    return assignment


def _replaced(existing: Assignment, role: str | None, ends_at) -> str:
    if existing.role != role:
        return f"replaced: role {role or 'none'}"
    if ends_at is None:
        return "replaced: no end date"
    return f"renewed until {ends_at.isoformat(timespec='minutes')} UTC"


def end(assignment: Assignment, actor_id: str | None, reason: str) -> None:
    """End an assignment, keeping the row: who ended it, when and why."""
    if assignment.ended_at is not None:
        return
    assignment.ended_at, assignment.ended_by_id = utcnow(), actor_id
    assignment.ended_reason, assignment.active_key = reason, None
    trail.record(
        "access_unassigned",
        actor_id,
        comment=reason,
        assignment_id=assignment.id,
        user_id=assignment.user_id,
        application=assignment.application.key,
        source=assignment.source,
    )


def item_fulfilled(item: RequestItem) -> None:
    """A cart item that went through: its grant becomes an assignment, its removal ends one.

    Items from other origins carry the assignment their change made already."""
    if item.origin != "cart":
        return
    if item.kind == "grant" or (item.kind == "update" and (item.role or item.ends_at)):
        ends_at = item.ends_at
        if item.kind == "update" and ends_at is None:  # a new role keeps the end it had
            current = find(item.beneficiary_id, item.application_id, "request")
            ends_at = current.ends_at if current is not None else None
        assignment = grant(
            item.beneficiary,
            item.application,
            "request",
            role=item.role,
            actor_id=item.requester_id,
            reason=item.justification or "requested",
            item=item,
            ends_at=ends_at,
        )
        item.assignment_id = assignment.id
    elif item.kind == "remove":
        current = find(item.beneficiary_id, item.application_id, "request")
        if current is not None:
            item.assignment_id = current.id
            end(current, item.requester_id, "removal requested and done")
