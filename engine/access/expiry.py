"""Time-bound access runs out: the worker's expiry scan ends the assignments whose end date has
passed and, when nothing else grants the application, takes the access away with the removal
flow (origin `expiry`), as leaving a group does.

Each call handles one batch in the caller's unit of work, read through the partial index on
active end dates, so its cost follows the batch, not the table. Two workers never end one
assignment twice: PostgreSQL locks the due rows FOR UPDATE SKIP LOCKED, and the end itself is a
conditional UPDATE (still active) whose returned rows are the only ones this call goes on with.
"""

import logging
from datetime import datetime

from sqlalchemy import select, update

from engine.access import items
from engine.audit import trail
from engine.db import db, utcnow
from engine.models import Application, Assignment, User

log = logging.getLogger(__name__)
BATCH = 200
REASON = "expired"


def expire_due(now: datetime | None = None, limit: int = BATCH) -> int:
    """End up to `limit` active assignments whose end has passed by `now` (default: the
    clock), start the removals that follow; returns how many this call ended."""
    now = now or utcnow()
    query = (
        select(Assignment.id)
        .where(
            Assignment.ended_at.is_(None),
            Assignment.ends_at.is_not(None),
            Assignment.ends_at <= now,
        )
        .order_by(Assignment.ends_at)
        .limit(limit)
    )
    if db.engine.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    due = list(db.session.scalars(query))
    if not due:
        return 0
    ended = db.session.execute(
        update(Assignment)
        .where(Assignment.id.in_(due), Assignment.ended_at.is_(None))
        .values(ended_at=now, ended_by_id=None, ended_reason=REASON, active_key=None)
        .returning(
            Assignment.id,
            Assignment.user_id,
            Assignment.application_id,
            Assignment.source,
            Assignment.ends_at,
        )
        .execution_options(synchronize_session="fetch")
    ).all()
    slots: dict[tuple[str, str], datetime] = {}
    for assignment_id, user_id, application_id, source, ends_at in ended:
        ends_at = ends_at or now  # selected by its end date: never None here
        app = db.session.get(Application, application_id)
        trail.record(
            "access_unassigned",
            None,
            comment=REASON,
            assignment_id=assignment_id,
            user_id=user_id,
            application=app.key if app else application_id,
            source=source,
            ends_at=ends_at.isoformat(),
        )
        slots[(user_id, application_id)] = ends_at
    for (user_id, application_id), ends_at in slots.items():
        _take_away(user_id, application_id, ends_at)
    return len(ended)


def _take_away(user_id: str, application_id: str, ends_at: datetime) -> None:
    """The removal flow for this person and application, unless another source still grants
    it (then `remove_if_unassigned` leaves the access alone)."""
    person = db.session.get(User, user_id)
    app = db.session.get(Application, application_id)
    if person is None or app is None:
        return
    reason = f"access ended on {ends_at.isoformat(timespec='minutes')} UTC"
    removal = items.remove_if_unassigned(person, app, origin="expiry", actor=None, reason=reason)
    if removal is not None:
        log.info("%s's %s expired: removal item %s", person.username, app.key, removal.id)
