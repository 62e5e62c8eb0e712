"""What an administrator reads about the directory, for the admin pages and the admin API alike:
people (searched, page by page), a person's overview, open items, open tasks and history, groups
and a group's overview, an application's assignments, the departments. Every function refuses
non-admins first."""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import Select, func, or_, select

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
    AuditEvent,
    Group,
    GroupApplication,
    HumanTask,
    RequestItem,
    User,
    WorkflowVersion,
    group_members,
)
from engine.requests.listing import DEFAULT_LIMIT, MAX_LIMIT, Page, paginate

MAX_ROWS = 10_000  # groups and assignments lists answer at most this many rows
LATEST_CHANGES = 10
HISTORY_LIMIT = 50
PICK_LIMIT = 500  # people offered in a page's pick list; a typed username reaches anyone
PEOPLE_ORDER = (User.username, User.id)


@dataclass(frozen=True)
class PeopleFilter:
    """What the people list is narrowed to; empty means everyone.

    `q` is part of a username, display name, first or last name or e-mail (any case);
    `active` True/False/None (everyone); `group` a group name; `department` any case."""

    q: str | None = None
    active: bool | None = None
    group: str | None = None
    department: str | None = None


def application(admin: User, key: str) -> Application:
    """An application by key for an admin; 404 when there is none."""
    require_admin(admin, "administer applications")
    app = find_application(key)
    if app is None:
        raise NotFound(f"no application {key!r}")
    return app


# ---- people


def _people_query(wanted: PeopleFilter) -> Select:
    query = select(User)
    q = (wanted.q or "").strip().lower()
    if q:
        pattern = f"%{q}%"
        columns = (User.username, User.display_name, User.first_name, User.last_name, User.email)
        query = query.where(
            or_(*(func.lower(func.coalesce(column, "")).like(pattern) for column in columns))
        )
    if wanted.active is not None:
        query = query.where(User.active.is_(wanted.active))
    if wanted.group:
        query = query.where(
            User.id.in_(
                select(group_members.c.user_id)
                .join(Group, Group.id == group_members.c.group_id)
                .where(Group.name == wanted.group)
            )
        )
    department = (wanted.department or "").strip().lower()
    if department:
        query = query.where(func.lower(User.department) == department)
    return query


def search_people(
    admin: User,
    wanted: PeopleFilter | None = None,
    *,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page:
    """One page of the people matching `wanted`, by username (keyset: `cursor` is the `next`
    of the previous page)."""
    require_admin(admin, "list people")
    return paginate(_people_query(wanted or PeopleFilter()), list(PEOPLE_ORDER), limit, cursor)


def count_people(admin: User, wanted: PeopleFilter | None = None) -> int:
    require_admin(admin, "list people")
    query = _people_query(wanted or PeopleFilter())
    return db.session.scalar(select(func.count()).select_from(query.subquery())) or 0


def each_person(admin: User, wanted: PeopleFilter | None = None) -> Iterator[User]:
    """Every person matching `wanted`, by username, read page by page (for exports)."""
    cursor = None
    while True:
        page = search_people(admin, wanted, limit=MAX_LIMIT, cursor=cursor)
        yield from page.rows
        if page.next is None:
            return
        cursor = page.next


def people_to_pick(admin: User) -> Sequence[User]:
    """Active people for a page's pick list (the first PICK_LIMIT by username)."""
    require_admin(admin, "list people")
    query = _people_query(PeopleFilter(active=True)).order_by(*PEOPLE_ORDER).limit(PICK_LIMIT)
    return db.session.scalars(query).all()


def departments(admin: User) -> Sequence[str | None]:
    """The departments people are in, for the people filter."""
    require_admin(admin, "list people")
    return db.session.scalars(
        select(User.department)
        .where(User.department.is_not(None), User.department != "")
        .distinct()
        .order_by(User.department)
    ).all()


def open_items(admin: User, user: User) -> Sequence[RequestItem]:
    """Items for the person still running, oldest first."""
    require_admin(admin, "see a person's items")
    return db.session.scalars(
        select(RequestItem)
        .where(RequestItem.beneficiary_id == user.id, RequestItem.open_key.is_not(None))
        .order_by(RequestItem.created_at, RequestItem.id)
    ).all()


def open_tasks(admin: User, user: User) -> Sequence[HumanTask]:
    """Open tasks waiting on the person (theirs alone, or claimed by them), oldest first."""
    require_admin(admin, "see a person's tasks")
    return db.session.scalars(
        select(HumanTask)
        .where(
            HumanTask.status == "open",
            or_(HumanTask.candidate_user_id == user.id, HumanTask.claimed_by_id == user.id),
        )
        .order_by(HumanTask.created_at, HumanTask.id)
    ).all()


def history(admin: User, user: User, limit: int = HISTORY_LIMIT) -> Sequence[AuditEvent]:
    """Audit events about the person: naming them, or about their items; newest first."""
    require_admin(admin, "see a person's history")
    their_items = select(RequestItem.id).where(RequestItem.beneficiary_id == user.id)
    return db.session.scalars(
        select(AuditEvent)
        .where(
            or_(
                AuditEvent.details["user"].as_string() == user.username,
                AuditEvent.item_id.in_(their_items),
            )
        )
        .order_by(AuditEvent.id.desc())
        .limit(limit)
    ).all()


def person_overview(admin: User, username: str) -> dict:
    """One person (active or not) with their access, open items and open tasks."""
    require_admin(admin, "look at people")
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user {username!r}")
    return {
        "user": user,
        "access": holdings.access_of(user),
        "open_items": open_items(admin, user),
        "open_tasks": open_tasks(admin, user),
    }


# ---- groups


def list_groups(admin: User) -> list[dict]:
    """Every group by name with how many members and applications it has."""
    require_admin(admin, "list groups")
    members: dict[str, int] = dict(
        db.session.execute(
            select(group_members.c.group_id, func.count()).group_by(group_members.c.group_id)
        ).all()
    )
    granted: dict[str, int] = dict(
        db.session.execute(
            select(GroupApplication.group_id, func.count()).group_by(GroupApplication.group_id)
        ).all()
    )
    return [
        {
            "group": group,
            "members": members.get(group.id, 0),
            "applications": granted.get(group.id, 0),
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
            "kind": row.application.kind,
            "role": row.role,
            "role_name": row.application.role_names.get(row.role, row.role) if row.role else None,
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


# ---- applications


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


def workflows(admin: User) -> Sequence[str]:
    """The keys of the deployed (active) workflows an application may name."""
    require_admin(admin, "administer applications")
    return db.session.scalars(
        select(WorkflowVersion.key)
        .where(WorkflowVersion.status == "active")
        .distinct()
        .order_by(WorkflowVersion.key)
    ).all()
