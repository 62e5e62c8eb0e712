"""Searching the audit trail, for administrators."""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, or_, select

from engine.db import db
from engine.directory.authentication import require_admin
from engine.models import AuditEvent, User


@dataclass
class AuditPage:
    events: Sequence[AuditEvent]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def search_audit(
    user: User,
    event: str | None = None,
    actor: str | None = None,
    item_id: str | None = None,
    text: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> AuditPage:
    """Audit events, newest first, filtered by event, actor username, item id and comment text."""
    require_admin(user)
    query = select(AuditEvent)
    if event:
        query = query.where(AuditEvent.event == event.strip())
    if actor:
        query = query.join(User, AuditEvent.actor_id == User.id).where(
            User.username == actor.strip()
        )
    if item_id:
        query = query.where(
            or_(AuditEvent.item_id == item_id.strip(), AuditEvent.request_id == item_id.strip())
        )
    if text:
        query = query.where(AuditEvent.comment.ilike(f"%{text.strip()}%"))
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    page = max(1, min(page, -(-total // per_page)))  # past the last page: the last page
    events = db.session.scalars(
        query.order_by(AuditEvent.id.desc()).offset((page - 1) * per_page).limit(per_page)
    ).all()
    return AuditPage(events=events, total=total, page=page, per_page=per_page)


def audit_event_names() -> Sequence[str]:
    """The event names present in the trail, for the search form's choices."""
    return db.session.scalars(select(AuditEvent.event).distinct().order_by(AuditEvent.event)).all()
