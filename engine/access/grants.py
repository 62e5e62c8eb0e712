"""An admin's direct assignments ("Assign users"): create a new account or link an existing one."""

from datetime import datetime

from sqlalchemy import select

from engine.access import assignments
from engine.access import items as access_items
from engine.db import db, utcnow
from engine.directory.authentication import require_admin
from engine.directory.lookup import application_by_key, user_by_username
from engine.errors import Invalid, NotFound
from engine.models import Assignment, User
from engine.provisioning import accounts

ADMIN_MODES = ("create", "link")


def assign_users(
    admin: User,
    key: str,
    usernames: list[str],
    *,
    account_mode: str = "create",
    role: str | None = None,
    reason: str | None = None,
    ends_at: datetime | None = None,
) -> list[Assignment]:
    """Assign an application to people; an item (no approval) creates or links the account of
    each one who does not hold it yet. With `ends_at` the assignments end then by themselves."""
    require_admin(admin, "assign applications")
    if account_mode not in ADMIN_MODES:
        raise Invalid("account_mode must be create or link", field="account_mode")
    app = application_by_key(key)
    if role is not None and role not in app.role_names:
        raise Invalid(f"{app.name} has no role {role!r}", field="role")
    if not usernames:
        raise Invalid("pick at least one person", field="users")
    if ends_at is not None and ends_at <= utcnow():
        raise Invalid("the end date is in the past", field="end_date")
    made = []
    for username in dict.fromkeys(usernames):
        person = user_by_username(username, field="users")
        held = bool(assignments.active(person.id, app.id)) or bool(
            accounts.active_accounts(person.id, app.id)
        )
        assignment = assignments.grant(
            person,
            app,
            "admin",
            role=role,
            actor_id=admin.id,
            reason=reason or "assigned by an admin",
            ends_at=ends_at,
        )
        made.append(assignment)
        if held or access_items.open_item(person.id, app.id) is not None:
            continue  # the person has it, or an item in flight brings it
        access_items.start_item(
            person,
            app,
            origin="admin",
            account_mode=account_mode,
            actor=admin,
            reason=reason,
            role=role,
            assignment_id=assignment.id,
        )
    return made


def unassign(admin: User, assignment_id: str, reason: str | None = None) -> Assignment:
    """End one assignment; when it was the person's last for the app, the access is removed."""
    require_admin(admin, "end assignments")
    assignment = db.session.scalar(select(Assignment).where(Assignment.id == assignment_id))
    if assignment is None:
        raise NotFound("no such assignment")
    if assignment.ended_at is not None:
        return assignment
    why = reason or f"ended by {admin.username}"
    assignments.end(assignment, admin.id, why)
    db.session.flush()
    access_items.remove_if_unassigned(
        assignment.user, assignment.application, origin="admin", actor=admin, reason=why
    )
    return assignment
