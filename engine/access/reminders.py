"""Reminders before time-bound access ends: the holder and their manager are told the end date,
with a link to renew (a new request through the application's approval flow).

Each reminder goes once: the assignment records the smallest "days before" already sent
(`reminder_days`), and the worker claims a row by a conditional UPDATE (PostgreSQL also skips
rows another worker has locked), in the same unit as the notices it queues. A row due for two
reminders at once (the worker was down) gets only the nearer one.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta
from html import escape

from sqlalchemy import or_, select, update

from engine.audit import notices, trail
from engine.db import db, utcnow
from engine.errors import Invalid
from engine.models import Assignment
from engine.requests.end_dates import describe

DEFAULT_DAYS = (7, 1)
BATCH = 200


def parse_days(text: str | Iterable[int]) -> tuple[int, ...]:
    """The reminder days from a setting such as "7,1" (any order; at least one, each 1-365)."""
    values = text.split(",") if isinstance(text, str) else list(text)
    try:
        days = tuple(sorted({int(str(v).strip()) for v in values if str(v).strip()}))
    except ValueError as err:
        raise Invalid("reminder days must be whole numbers such as 7,1") from err
    if not days or days[0] < 1 or days[-1] > 365:
        raise Invalid("reminder days must be between 1 and 365, such as 7,1")
    return days


def remind_due(
    base_url: str,
    days: Iterable[int] = DEFAULT_DAYS,
    now: datetime | None = None,
    limit: int = BATCH,
) -> int:
    """Queue the due reminders for up to `limit` assignments in the caller's unit; returns how
    many assignments were reminded."""
    now = now or utcnow()
    done = 0
    for before in sorted(set(days)):  # the nearest first: it supersedes the farther ones
        claimed = _claim(before, now, limit - done)
        for assignment in claimed:
            _notify(assignment, before, base_url)
        done += len(claimed)
        if done >= limit:
            break
    return done


def _claim(before: int, now: datetime, limit: int) -> list[Assignment]:
    """Mark up to `limit` assignments ending within `before` days as reminded at `before`."""
    not_yet = or_(Assignment.reminder_days.is_(None), Assignment.reminder_days > before)
    query = (
        select(Assignment.id)
        .where(
            Assignment.ended_at.is_(None),
            Assignment.ends_at.is_not(None),
            Assignment.ends_at > now,
            Assignment.ends_at <= now + timedelta(days=before),
            not_yet,
        )
        .order_by(Assignment.ends_at)
        .limit(limit)
    )
    if db.engine.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    due = list(db.session.scalars(query))
    if not due:
        return []
    ids = db.session.scalars(
        update(Assignment)
        .where(Assignment.id.in_(due), Assignment.ended_at.is_(None), not_yet)
        .values(reminder_days=before, reminded_at=now)
        .returning(Assignment.id)
        .execution_options(synchronize_session="fetch")
    ).all()
    return list(db.session.scalars(select(Assignment).where(Assignment.id.in_(ids))))


def renew_url(base_url: str, assignment: Assignment) -> str:
    return f"{base_url.rstrip('/')}/access/renew/{assignment.id}"


def _notify(assignment: Assignment, before: int, base_url: str) -> None:
    person, app = assignment.user, assignment.application
    when = describe(assignment.ends_at) if assignment.ends_at else "soon"
    link = renew_url(base_url, assignment)
    name = person.display_name or person.username
    lines = [(person, f"Your access to {app.name} lasts {when}.")]
    if person.manager is not None and person.manager.active:
        lines.append((person.manager, f"{name}'s access to {app.name} lasts {when}."))
    for recipient, sentence in lines:
        text = (
            f"{sentence}\n\nTo keep it, ask for a renewal (it goes through the usual approval):"
            f"\n{link}\n\nNothing needs doing if the access is no longer needed."
        )
        html = (
            f"<p>{escape(sentence)}</p>\n<p>To keep it, "
            f'<a href="{escape(link)}">ask for a renewal</a> (it goes through the usual '
            "approval).</p>\n<p>Nothing needs doing if the access is no longer needed.</p>"
        )
        notices.queue(recipient, "expiry_reminder", sentence, text, html)
    trail.record(
        "expiry_reminder_queued",
        None,
        assignment_id=assignment.id,
        user=person.username,
        application=app.key,
        days_before=before,
        ends_at=assignment.ends_at.isoformat() if assignment.ends_at else None,
    )
