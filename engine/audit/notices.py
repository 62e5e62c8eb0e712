"""The outbox: notices to people about their access, sent by the worker over SMTP.

A notice is a row written in the same transaction as the change it tells about (`queue`), so a
rolled-back change announces nothing and a committed one is never forgotten. The worker takes
due notices (`send_due`) and sends each as a plain-text and HTML message, with a link to the
item's page when there is one.

- Taking: on PostgreSQL the due rows are locked FOR UPDATE SKIP LOCKED, on SQLite (one writer at
  a time) a conditional UPDATE wins or loses each row. The taker pushes `due_at` ahead by a
  lease and counts the attempt, then commits: another worker no longer sees them as due. A
  worker that dies while sending lets the lease run out and the notice is due again (at least
  once; twice only in that case).
- After each message the notice is marked sent in a unit of its own, or its error is recorded
  and it is due again after a backoff; after MAX_ATTEMPTS it stays `failed` with its error.
- A person without an email address is `skipped`: the row says so, nothing is sent.

Web processes only write rows here; only the worker talks to the mail server.
"""

import html
import logging
import smtplib
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from engine.audit.notifications import Mailer
from engine.db import db, new_id, utcnow
from engine.errors import Conflict
from engine.models import Notice, RequestItem, User
from engine.unit_of_work import unit_of_work

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 60.0  # 1, 2, 4, ... minutes
BACKOFF_MAX_SECONDS = 3600.0
MIN_LEASE_SECONDS = 300.0
NO_ADDRESS = "the person has no email address"


def queue(
    user: User,
    kind: str,
    subject: str,
    text: str,
    html: str,
    item: RequestItem | None = None,
) -> Notice:
    """Write a notice to `user` in the open unit; the worker sends it once the unit commits.

    `html` is a fragment (the worker wraps it and adds the item's link); callers escape what
    they put in it. Nothing secret belongs in either body: it leaves the system in clear."""
    email = (user.email or "").strip() or None
    notice = Notice(
        id=new_id(),
        recipient_id=user.id,
        recipient_email=email,
        kind=kind,
        subject=" ".join(subject.split())[:300],  # one line: a header cannot hold a newline
        body_text=text,
        body_html=html,
        item=item,
        item_id=item.id if item is not None else None,
        status="pending" if email else "skipped",
        last_error=None if email else NO_ADDRESS,
        attempts=0,
        created_at=utcnow(),
        due_at=utcnow(),
    )
    db.session.add(notice)
    return notice


@dataclass
class _Outgoing:
    """What a taken notice needs to be sent, read once so no transaction stays open meanwhile."""

    id: str
    email: str | None
    subject: str
    text: str
    html: str
    item_id: str | None
    attempts: int


def send_due(mailer: Mailer, limit: int = 20) -> int:
    """Take up to `limit` due notices and send them; returns how many were taken (sent, failed
    or skipped). The worker calls it until it returns 0."""
    lease = max(MIN_LEASE_SECONDS, 2 * mailer.timeout * max(1, limit))
    taken = _take(limit, lease)
    if not taken:
        return 0
    rows = db.session.scalars(
        select(Notice).where(Notice.id.in_(taken)).order_by(Notice.created_at, Notice.id)
    ).all()
    batch = [
        _Outgoing(
            n.id, n.recipient_email, n.subject, n.body_text, n.body_html, n.item_id, n.attempts
        )
        for n in rows
    ]
    db.session.rollback()  # no transaction stays open while the mail server answers
    to_send = []
    for notice in batch:
        if notice.email:
            to_send.append(notice)
        else:
            _record(notice, NO_ADDRESS, skipped=True)
    if to_send:
        _send(mailer, to_send)
    return len(batch)


def _take(limit: int, lease_seconds: float) -> list[str]:
    """Lease up to `limit` due notices to this worker (attempts counted now); their ids."""
    try:
        with unit_of_work():
            now = utcnow()
            query = (
                select(Notice.id)
                .where(Notice.status == "pending", Notice.due_at <= now)
                .order_by(Notice.due_at, Notice.id)
                .limit(limit)
            )
            if db.engine.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            due = list(db.session.scalars(query))
            if not due:
                return []
            return list(
                db.session.scalars(
                    update(Notice)
                    .where(Notice.id.in_(due), Notice.status == "pending", Notice.due_at <= now)
                    .values(
                        due_at=now + timedelta(seconds=lease_seconds),
                        attempts=Notice.attempts + 1,
                    )
                    .returning(Notice.id)
                    .execution_options(synchronize_session=False)
                )
            )
    except (Conflict, OperationalError) as err:  # SQLite was busy: the next poll tries again
        log.info("no notice taken this time (%s)", type(err).__name__)
        return []


def _send(mailer: Mailer, batch: list[_Outgoing]) -> None:
    """Send the batch over one connection; each notice's outcome is recorded right after it."""
    try:
        smtp = mailer.connect()
    except (OSError, smtplib.SMTPException) as err:
        for notice in batch:
            _record(notice, _describe(err))
        return
    broken: str | None = None
    try:
        for notice in batch:
            if broken is not None:
                _record(notice, broken)
                continue
            try:
                message = _message(mailer, notice)
            except Exception as err:  # a malformed address or header: this notice only
                _record(notice, _describe(err))
                continue
            try:
                smtp.send_message(message)
            except (smtplib.SMTPServerDisconnected, OSError) as err:
                broken = _describe(err)  # the connection is gone: the rest wait for the retry
                _record(notice, broken)
            except smtplib.SMTPException as err:  # this message refused (its recipient, ...)
                _record(notice, _describe(err))
            else:
                _record(notice, None)
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()


def _message(mailer: Mailer, notice: _Outgoing):
    text, body = notice.text.rstrip() + "\n", notice.html
    if notice.item_id:
        url = f"{mailer.base_url}/items/{notice.item_id}"
        text += f"\nSee it in accessflow: {url}\n"
        body += f'\n<p><a href="{html.escape(url)}">See it in accessflow</a></p>'
    page = (
        '<!doctype html>\n<html><head><meta charset="utf-8"></head>'
        f'<body style="font-family: sans-serif">\n{body}\n</body></html>\n'
    )
    message = mailer.message(notice.email or "", notice.subject, text, page)
    message["Auto-Submitted"] = "auto-generated"
    return message


def _record(notice: _Outgoing, error: str | None, *, skipped: bool = False) -> None:
    """Write a taken notice's outcome: sent, skipped, due again after a backoff, or failed."""
    now = utcnow()
    if error is None:
        values: dict = {"status": "sent", "sent_at": now, "last_error": None}
    elif skipped:
        values = {"status": "skipped", "last_error": error}
    elif notice.attempts >= MAX_ATTEMPTS:
        values = {"status": "failed", "last_error": error}
        log.warning("notice %s: giving up after %d attempts: %s", notice.id, notice.attempts, error)
    else:
        values = {"due_at": now + timedelta(seconds=backoff(notice.attempts)), "last_error": error}
        log.info(
            "notice %s: attempt %d failed, retrying later: %s", notice.id, notice.attempts, error
        )
    with unit_of_work():
        db.session.execute(
            update(Notice)
            .where(Notice.id == notice.id, Notice.status == "pending")
            .values(**values)
            .execution_options(synchronize_session=False)
        )


def backoff(attempts: int) -> float:
    """Seconds before the next try after `attempts` failed ones."""
    return min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1))


def _describe(err: Exception) -> str:
    return f"{type(err).__name__}: {err}"[:500]
