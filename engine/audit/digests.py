"""New tasks told to the people who may act on them: one digest mail per person per interval.

Two steps, both run by the worker each poll and both safe to run twice or from two workers:

1. `scan_new_tasks` reads the open tasks created since the last scan (a cursor kept in the
   settings table) and marks every person they wait on (the named candidate, or each active
   member of the candidate group) as owed a digest since the first of them: one UPDATE per
   batch, however many tasks or members.
2. `send_due_digests` takes the people owed a digest whose interval has passed (a conditional
   UPDATE, so two workers never send one twice), reads what their inbox holds among the
   scanned new tasks (what someone else decided meanwhile is left out) and writes one notice
   to the outbox, which the worker then sends.

A person's `task_notices` preference: `digest` (the default), `immediate` (on the next poll) or
`none`. Nothing else a person is told (a decision, an account, a removal) depends on it.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from typing import cast

from sqlalchemy import CursorResult, and_, func, or_, select, union_all, update

from engine.audit import notices
from engine.audit.notifications import Mailer
from engine.db import db, utcnow
from engine.errors import Invalid
from engine.models import HumanTask, Setting, User, group_members
from engine.tasks import inbox
from engine.unit_of_work import unit_of_work

CURSOR = "task_digest_cursor"
PREFERENCES = ("digest", "immediate", "none")
SCAN_BATCH = 1000
SHOWN = 20


@dataclass(frozen=True)
class _Cursor:
    at: datetime
    id: str


def set_preference(user: User, preference: str) -> User:
    """How `user` hears of new tasks: digest, immediate or none."""
    if preference not in PREFERENCES:
        raise Invalid(f"task_notices must be one of {', '.join(PREFERENCES)}", field="task_notices")
    user.task_notices = preference
    if preference == "none":
        user.digest_pending_since = None
    return user


def scan_new_tasks(limit: int = SCAN_BATCH) -> int:
    """Mark the people owed a digest by the next `limit` new open tasks; returns how many tasks
    were read (0: caught up). Runs in the caller's unit of work."""
    cursor = _read_cursor()
    query = select(
        HumanTask.id,
        HumanTask.created_at,
        HumanTask.candidate_user_id,
        HumanTask.candidate_group_id,
    ).where(HumanTask.status == "open")
    if cursor is not None:
        query = query.where(
            or_(
                HumanTask.created_at > cursor.at,
                and_(HumanTask.created_at == cursor.at, HumanTask.id > cursor.id),
            )
        )
    rows = db.session.execute(query.order_by(*inbox.ORDER).limit(limit)).all()
    if not rows:
        return 0
    user_ids = {r.candidate_user_id for r in rows if r.candidate_user_id}
    group_ids = {r.candidate_group_id for r in rows if r.candidate_group_id}
    members = select(group_members.c.user_id).where(group_members.c.group_id.in_(group_ids))
    db.session.execute(
        update(User)
        .where(
            User.digest_pending_since.is_(None),
            User.active.is_(True),
            User.task_notices != "none",
            or_(User.id.in_(user_ids), User.id.in_(members)),
        )
        .values(digest_pending_since=rows[0].created_at)
        .execution_options(synchronize_session=False)
    )
    _write_cursor(_Cursor(rows[-1].created_at, rows[-1].id))
    return len(rows)


def send_due_digests(mailer: Mailer, interval: timedelta, limit: int = 50) -> int:
    """Write the digests now due (each person in a unit of work of their own); returns how many
    people were handled."""
    with unit_of_work():
        cursor = _read_cursor()
        now = utcnow()
        due = db.session.execute(
            select(User.id, User.digest_pending_since)
            .where(
                User.digest_pending_since.is_not(None),
                or_(
                    User.task_notices == "immediate",
                    User.last_digest_at.is_(None),
                    User.last_digest_at <= now - interval,
                ),
            )
            .order_by(User.digest_pending_since)
            .limit(limit)
        ).all()
    if cursor is None:
        return 0
    for user_id, since in due:
        with unit_of_work():
            _send_one(mailer, user_id, cast(datetime, since), cursor)
    return len(due)


def _send_one(mailer: Mailer, user_id: str, since: datetime, cursor: _Cursor) -> None:
    taken = db.session.execute(
        update(User)
        .where(User.id == user_id, User.digest_pending_since == since)
        .values(digest_pending_since=None, last_digest_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if not cast(CursorResult, taken).rowcount:  # another worker took this digest meanwhile
        return
    person = db.session.get(User, user_id)
    if person is None or not person.active or person.task_notices == "none":
        return
    window = and_(HumanTask.created_at >= since, HumanTask.created_at <= cursor.at)
    parts = [branch.where(window) for branch in inbox.branches(person, "all")]
    if not parts:
        return
    merged = union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()
    total = db.session.scalar(select(func.count()).select_from(merged))
    if not total:
        return
    tasks = db.session.scalars(
        select(HumanTask)
        .where(HumanTask.id.in_(select(merged.c.id)))
        .order_by(*inbox.ORDER)
        .limit(SHOWN)
    ).all()
    _queue(mailer, person, tasks, total)


def _queue(mailer: Mailer, person: User, tasks, total: int) -> None:
    plural = "s" if total != 1 else ""
    lines, rows = [], []
    for task in tasks:
        item = task.item
        what = f"{task.title}: {item.application.name} for {item.beneficiary.username}"
        url = f"{mailer.base_url}/tasks/{task.id}"
        lines.append(f"- {what}\n  {url}")
        rows.append(f'<li><a href="{escape(url)}">{escape(what)}</a></li>')
    more = total - len(tasks)
    tail = f"\n…and {more} more." if more > 0 else ""
    inbox_url = f"{mailer.base_url}/inbox"
    text = (
        f"{total} new task{plural} wait{'' if plural else 's'} on you:\n\n"
        + "\n".join(lines)
        + f"{tail}\n\nYour inbox: {inbox_url}\n"
    )
    html = (
        f"<p>{total} new task{plural} wait{'' if plural else 's'} on you:</p><ul>"
        + "".join(rows)
        + "</ul>"
        + (f"<p>…and {more} more.</p>" if more > 0 else "")
        + f'<p><a href="{escape(inbox_url)}">Open your inbox</a></p>'
    )
    notices.queue(person, "task_digest", f"{total} new task{plural} in accessflow", text, html)


def _read_cursor() -> _Cursor | None:
    row = db.session.get(Setting, CURSOR)
    value = row.value if row is not None else None
    if not isinstance(value, dict):
        return None
    return _Cursor(datetime.fromisoformat(value["at"]), value["id"])


def _write_cursor(cursor: _Cursor) -> None:
    value = {"at": cursor.at.isoformat(), "id": cursor.id}
    row = db.session.get(Setting, CURSOR)
    if row is None:
        db.session.add(Setting(key=CURSOR, value=value))
    else:
        row.value = value
