"""Renewing time-bound access: what the cart form is prefilled with to ask for an extension.

The renewal is an ordinary request (it goes through the application's approvals): an update of
the account the person holds (a create for an sso application, which has none), with the same
role and a new end date; when it is fulfilled the assignment's end moves
(`assignments.item_fulfilled`)."""

from datetime import date, datetime, timedelta

from engine.db import db, utcnow
from engine.errors import NotFound
from engine.models import Assignment, User
from engine.provisioning import accounts
from engine.requests.end_dates import last_day, latest_end


def renewal_of(viewer: User, assignment_id: str, now: datetime | None = None) -> dict:
    """The cart line that renews an active, time-bound assignment: application, beneficiary,
    account mode, role and a proposed end date (as long again as it ran, within the
    application's maximum). Only the holder, their manager and admins may see it; to anyone
    else the assignment does not exist."""
    assignment = db.session.get(Assignment, assignment_id)
    if assignment is None or not _may_see(viewer, assignment):
        raise NotFound("no such assignment")
    if assignment.ended_at is not None:
        raise NotFound("this access has ended already: ask for it again from the catalog")
    held = accounts.active_accounts(assignment.user_id, assignment.application_id)
    return {
        "application": assignment.application.key,
        "beneficiary": assignment.user.username,
        "account_mode": "update" if held else "create",
        "role": assignment.role,
        "end_date": _proposed(assignment, now or utcnow()),
    }


def _may_see(viewer: User, assignment: Assignment) -> bool:
    holder = assignment.user
    return viewer.is_admin or viewer.id == holder.id or viewer.id == holder.manager_id


def _proposed(assignment: Assignment, now: datetime) -> str | None:
    if assignment.ends_at is None:
        return None
    length = max(assignment.ends_at - assignment.starts_at, timedelta(days=1))
    proposed: date = last_day(max(assignment.ends_at, now) + length)
    latest = latest_end(assignment.application, now)
    if latest is not None:
        proposed = min(proposed, last_day(latest))
    return proposed.isoformat()
