"""Admins' "expiring soon": active assignments whose end date falls within a window, soonest
first, read through the partial index on active end dates."""

from collections.abc import Iterator
from datetime import datetime, timedelta

from sqlalchemy import Select, select

from engine.db import utcnow
from engine.directory.authentication import require_admin
from engine.directory.file_schema import duration_of
from engine.directory.lookup import application_by_key
from engine.errors import Invalid
from engine.models import Assignment, User
from engine.requests.listing import DEFAULT_LIMIT, MAX_LIMIT, Page, paginate

DEFAULT_WINDOW = "P30D"
MAX_WINDOW = timedelta(days=3650)
ORDER = (Assignment.ends_at, Assignment.id)


def window(text: str | None) -> timedelta:
    """The window an ISO 8601 duration names (default P30D), refused when it is not one."""
    length = duration_of(text or DEFAULT_WINDOW)
    if length is None or length > MAX_WINDOW:
        raise Invalid(
            "expiring_within must be an ISO 8601 duration of at most P3650D, such as P30D",
            field="expiring_within",
        )
    return length


def _query(within: timedelta, application: str | None, now: datetime) -> Select:
    query = select(Assignment).where(
        Assignment.ended_at.is_(None),
        Assignment.ends_at.is_not(None),
        Assignment.ends_at <= now + within,
    )
    if application:
        query = query.where(Assignment.application_id == application_by_key(application).id)
    return query


def expiring_soon(
    admin: User,
    within: timedelta,
    *,
    application: str | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
    now: datetime | None = None,
) -> Page:
    """One page of the active assignments ending within `within` (an end already passed that
    the worker has not reached yet included), soonest first."""
    require_admin(admin, "list expiring access")
    return paginate(_query(within, application, now or utcnow()), list(ORDER), limit, cursor)


def each_expiring(
    admin: User, within: timedelta, *, application: str | None = None
) -> Iterator[Assignment]:
    """Every assignment `expiring_soon` lists, page by page (for exports)."""
    cursor = None
    now = utcnow()
    while True:
        page = expiring_soon(
            admin, within, application=application, limit=MAX_LIMIT, cursor=cursor, now=now
        )
        yield from page.rows
        if page.next is None:
            return
        cursor = page.next
