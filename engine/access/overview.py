"""Read-only views an administrator looks at: people and groups with what they hold, an
application's assignments, filtered. Every function refuses non-admins first."""

from collections.abc import Sequence

from sqlalchemy import func, or_, select

from engine.access import groups as group_access
from engine.access import holdings
from engine.db import db
from engine.directory.authentication import require_admin
from engine.directory.lookup import find_application
from engine.errors import NotFound
from engine.models import (
    AccessChange,
    Application,
    Assignment,
    Group,
    HumanTask,
    RequestItem,
    User,
    group_members,
)

MAX_ROWS = 10_000  # a list (or CSV export) answers at most this many rows
LATEST_CHANGES = 10


def application(admin: User, key: str) -> Application:
    """An application by key for an admin; 404 when there is none."""
    require_admin(admin, "administer applications")
    app = find_application(key)
    if app is None:
        raise NotFound(f"no application {key!r}")
    return app


def list_users(
    admin: User,
    q: str | None = None,
    active: bool | None = None,
    group: str | None = None,
    department: str | None = None,
) -> Sequence[User]:
    """People by username; `q` matches username, name or e-mail (case-insensitive)."""
    require_admin(admin, "list people")
    query = select(User).order_by(User.username).limit(MAX_ROWS)
    if q:
        pattern = f"%{q.lower()}%"
        query = query.where(
            or_(
                *(
                    func.lower(func.coalesce(column, "")).like(pattern)
                    for column in (User.username, User.display_name, User.email)
                )
            )
        )
    if active is not None:
        query = query.where(User.active.is_(active))
    if department:
        query = query.where(func.lower(User.department) == department.lower())
    if group:
        query = query.join(group_members, group_members.c.user_id == User.id).join(
            Group, Group.id == group_members.c.group_id
        )
        query = query.where(Group.name == group)
    return db.session.scalars(query).all()


def person_overview(admin: User, username: str) -> dict:
    """One person with their groups, manager, access, open items and open tasks."""
    require_admin(admin, "look at people")
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user {username!r}")
    open_items = db.session.scalars(
        select(RequestItem)
        .where(RequestItem.beneficiary_id == user.id, RequestItem.open_key.is_not(None))
        .order_by(RequestItem.created_at)
    ).all()
    open_tasks = db.session.scalars(
        select(HumanTask)
        .where(
            HumanTask.status == "open",
            or_(HumanTask.candidate_user_id == user.id, HumanTask.claimed_by_id == user.id),
        )
        .order_by(HumanTask.created_at)
    ).all()
    return {
        "user": user,
        "access": holdings.access_of(user),
        "open_items": open_items,
        "open_tasks": open_tasks,
    }


def list_groups(admin: User) -> list[dict]:
    """Every group by name with how many members and applications it has."""
    require_admin(admin, "list groups")
    members: dict[str, int] = dict(
        db.session.execute(
            select(group_members.c.group_id, func.count()).group_by(group_members.c.group_id)
        ).all()
    )
    return [
        {
            "group": group,
            "members": members.get(group.id, 0),
            "applications": len(group_access.group_applications(group)),
        }
        for group in db.session.scalars(select(Group).order_by(Group.name).limit(MAX_ROWS))
    ]


def group_overview(admin: User, name: str) -> dict:
    """A group: members, applications (role, how many hold it through the group) and its
    latest access changes (status and counts: the progress of a big change)."""
    require_admin(admin, "look at groups")
    group = group_access.group_by_name(name)
    ids = group_access.member_ids(group)
    members = (
        db.session.scalars(select(User).where(User.id.in_(ids)).order_by(User.username)).all()
        if ids
        else []
    )
    held = group_access.holdings(group)
    applications = [
        {
            "application": row.application.key,
            "name": row.application.name,
            "role": row.role,
            "assigned": held.get(row.application.key, 0),
            "added_at": row.added_at,
        }
        for row in sorted(group_access.group_applications(group), key=lambda r: r.application.key)
    ]
    changes = db.session.scalars(
        select(AccessChange)
        .where(AccessChange.group_id == group.id)
        .order_by(AccessChange.created_at.desc(), AccessChange.id)
        .limit(LATEST_CHANGES)
    ).all()
    return {
        "group": group,
        "members": members,
        "applications": applications,
        "counts": {"members": len(members), "applications": len(applications)},
        "changes": changes,
    }


def assignments(
    admin: User,
    key: str,
    *,
    user: str | None = None,
    source: str | None = None,
    include_ended: bool = False,
) -> Sequence[Assignment]:
    """An application's assignments, newest first, optionally one person's or one source's."""
    app = application(admin, key)
    query = select(Assignment).where(Assignment.application_id == app.id)
    if not include_ended:
        query = query.where(Assignment.ended_at.is_(None))
    if source:
        query = query.where(Assignment.source == source)
    if user:
        query = query.join(User, User.id == Assignment.user_id).where(User.username == user)
    query = query.order_by(Assignment.created_at.desc(), Assignment.id).limit(MAX_ROWS)
    return db.session.scalars(query).all()
