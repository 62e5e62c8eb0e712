"""End dates of time-bound access: what a request may ask for, checked when a line is added to
the cart and again at the submit (time has passed, the application's rules may have changed)."""

import re
from datetime import UTC, date, datetime, time, timedelta

from engine.db import utcnow
from engine.directory.file_schema import duration_of
from engine.errors import Invalid
from engine.models import Application

# The lengths the cart form offers (days); any date within the application's maximum is fine.
OFFERED_DAYS = (30, 90, 180)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
FORMATS = "an ISO 8601 date (2026-12-31) or date-time (2026-12-31T18:00:00Z)"


def parse_end_date(value: str | None) -> datetime | None:
    """The moment access asked for ends, as naive UTC; None when no end date is given.

    A date alone means the access lasts through that day: it ends at 00:00 UTC the day after.
    A date-time without an offset is UTC."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        if _DATE.fullmatch(text):
            return datetime.combine(date.fromisoformat(text) + timedelta(days=1), time())
        if len(text) > 40 or "T" not in text.upper():
            raise ValueError(text)
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError) as err:  # overflow: an offset beyond year 1 or 9999
        raise Invalid(f"end_date must be {FORMATS}", field="end_date") from err
    return moment


def latest_end(app: Application, now: datetime | None = None) -> datetime | None:
    """The latest end a request for `app` may ask for now: the end of the day on which its
    maximum duration runs out (so "90 days" picked as a date fits P90D); None: no maximum."""
    limit = duration_of(app.max_duration) if app.max_duration else None
    if limit is None:
        return None
    reach = (now or utcnow()) + limit
    return datetime.combine(reach.date() + timedelta(days=1), time())


def check_end_date(
    app: Application, ends_at: datetime | None, account_mode: str, now: datetime | None = None
) -> None:
    """Refuse an end date in the past or beyond the application's maximum, a missing one the
    application requires, and one on a removal (it ends access now)."""
    if account_mode == "remove":
        if ends_at is not None:
            raise Invalid("a removal ends the access now: leave end_date out", field="end_date")
        return
    now = now or utcnow()
    if ends_at is None:
        if app.require_end_date:
            raise Invalid(
                f"{app.name} grants access for a limited time: give an end_date", field="end_date"
            )
        return
    if ends_at <= now:
        raise Invalid(f"end_date {_shown(ends_at)} is in the past", field="end_date")
    latest = latest_end(app, now)
    if latest is not None and ends_at > latest:
        raise Invalid(
            f"{app.name} grants access for at most {app.max_duration}: "
            f"end_date must be no later than {_shown(latest)}",
            field="end_date",
            latest=_shown(latest),
        )


def describe(moment: datetime) -> str:
    """An end in words: "through 2026-12-31" for a date's end, else the exact UTC time."""
    if moment.time() == time():
        return f"through {(moment - timedelta(days=1)).date().isoformat()}"
    return f"until {moment.strftime('%Y-%m-%d %H:%M')} UTC"


def last_day(moment: datetime) -> date:
    """The last day the access lasts (what a date input shows for this end)."""
    return (moment - timedelta(microseconds=1)).date()


def _shown(moment: datetime) -> str:
    return moment.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")
