"""Lists people read page by page: keyset pagination with opaque cursors, never OFFSET."""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select

from engine.db import db
from engine.errors import Invalid
from engine.models import AccessRequest, Application, HumanTask, RequestItem, User
from engine.models.access import STATUSES
from engine.tasks import inbox

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
INBOX_SCOPES = ("all", "claimable", "mine")


@dataclass
class Page:
    """One page of rows and the cursor of the next page (None on the last one)."""

    rows: list
    next: str | None


def paginate(query, columns, limit=DEFAULT_LIMIT, cursor=None, descending=False) -> Page:
    """Order `query` by `columns` (unique together) and return the page after `cursor`."""
    limit = _limit(limit)
    if cursor:
        query = query.where(_after(columns, decode_cursor(cursor, columns), descending))
    order = [c.desc() if descending else c.asc() for c in columns]
    rows = db.session.scalars(query.order_by(*order).limit(limit + 1)).unique().all()
    return _page(rows, columns, limit)


def _limit(limit) -> int:
    return max(1, min(int(limit or DEFAULT_LIMIT), MAX_LIMIT))


def _page(rows: list, columns, limit: int) -> Page:
    """The first `limit` of `rows` (read one further to know whether a next page exists)."""
    if len(rows) <= limit:
        return Page(rows, None)
    rows = rows[:limit]
    return Page(rows, encode_cursor([getattr(rows[-1], c.key) for c in columns]))


def _after(columns, values, descending):
    """(a, b) > (x, y) spelled out, since not every database compares row values; the bound on
    the first column alone lets an index on the columns start at the cursor."""
    first = columns[0]
    bound = first <= values[0] if descending else first >= values[0]
    return and_(bound, _beyond(columns, values, descending))


def _beyond(columns, values, descending):
    first, rest = columns[0], columns[1:]
    beyond = first < values[0] if descending else first > values[0]
    if not rest:
        return beyond
    return or_(beyond, and_(first == values[0], _beyond(rest, values[1:], descending)))


def encode_cursor(values: list) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, columns) -> list:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        plain = json.loads(raw)
        if not isinstance(plain, list) or len(plain) != len(columns):
            raise ValueError
        return [_typed(value, column) for value, column in zip(plain, columns, strict=True)]
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as err:
        raise Invalid("cursor is not one this server handed out", field="cursor") from err


def _typed(value, column):
    if not isinstance(value, str) or "\x00" in value or len(value) > 400:
        raise ValueError
    value.encode("utf-8")  # a lone surrogate ("\ud800") raises UnicodeEncodeError, a ValueError
    if column.type.python_type is datetime:
        return datetime.fromisoformat(value)
    return value


def applications_page(limit=DEFAULT_LIMIT, cursor=None) -> Page:
    """The catalog: applications open for requests (a disabled one has left it)."""
    query = select(Application).where(Application.enabled.is_(True))
    return paginate(query, [Application.name, Application.id], limit, cursor)


def requests_page(user: User, limit=DEFAULT_LIMIT, cursor=None) -> Page:
    """The caller's own requests, newest first."""
    query = select(AccessRequest).where(AccessRequest.requester_id == user.id)
    columns = [AccessRequest.submitted_at, AccessRequest.id]
    return paginate(query, columns, limit, cursor, descending=True)


def items_page(user: User, status=None, limit=DEFAULT_LIMIT, cursor=None) -> Page:
    """Items the caller requested or that are for them, newest first, optionally by status."""
    query = select(RequestItem).where(
        or_(RequestItem.requester_id == user.id, RequestItem.beneficiary_id == user.id)
    )
    if status is not None:
        if status not in STATUSES:
            raise Invalid(f"status must be one of {', '.join(STATUSES)}", field="status")
        query = query.where(RequestItem.status == status)
    columns = [RequestItem.created_at, RequestItem.id]
    return paginate(query, columns, limit, cursor, descending=True)


def inbox_page(user: User, scope="all", limit=DEFAULT_LIMIT, cursor=None, filters=None) -> Page:
    """Open tasks the caller may act on, oldest first; scope: one of inbox.VIEWS (the API
    offers all | claimable | mine); `filters` (inbox.Filters) narrows them."""
    if scope not in inbox.VIEWS:
        raise Invalid(f"scope must be one of {', '.join(inbox.VIEWS)}", field="scope")
    limit, columns = _limit(limit), list(inbox.ORDER)
    after = _after(columns, decode_cursor(cursor, columns), False) if cursor else None
    query = inbox.page_query(user, scope, after, limit + 1, filters)
    rows = [] if query is None else db.session.scalars(query).unique().all()
    return _page(rows, columns, limit)


def completed_page(user: User, limit=DEFAULT_LIMIT, cursor=None) -> Page:
    """The tasks the caller decided, newest decision first."""
    query = select(HumanTask).where(
        HumanTask.completed_by_id == user.id, HumanTask.status == "completed"
    )
    columns = [HumanTask.completed_at, HumanTask.id]
    return paginate(query, columns, limit, cursor, descending=True)


def inbox_count(user: User, scope="all", cap: int | None = None, filters=None) -> int:
    """How many tasks the inbox holds, up to cap + 1 (inbox.COUNT_CAP by default): more than
    `cap` reads as "cap+"."""
    query = inbox.count_query(user, scope, cap or inbox.COUNT_CAP, filters)
    return 0 if query is None else db.session.scalar(query)
