"""Read-only views for administrators: people with filters, a person's open work and history,
groups with their sizes, a group's latest queued changes."""

from collections.abc import Sequence

from sqlalchemy import func, or_, select

from engine.db import db
from engine.directory.authentication import require_admin
from engine.models import (
    AccessChange,
    AuditEvent,
    Group,
    HumanTask,
    RequestItem,
    User,
    group_members,
)

PEOPLE_LIMIT = 500


def search_people(
    admin: User,
    name: str = "",
    active: str = "",
    group: str = "",
    department: str = "",
) -> Sequence[User]:
    """People by name (username, display, first or last name), active or not, group, department."""
    require_admin(admin, "list people")
    query = select(User)
    if name:
        like = f"%{name.strip().lower()}%"
        query = query.where(
            or_(
                *(
                    func.lower(column).like(like)
                    for column in (
                        User.username,
                        User.display_name,
                        User.first_name,
                        User.last_name,
                    )
                )
            )
        )
    if active in ("yes", "no"):
        query = query.where(User.active.is_(active == "yes"))
    if group:
        query = query.where(
            User.id.in_(
                select(group_members.c.user_id)
                .join(Group, Group.id == group_members.c.group_id)
                .where(Group.name == group)
            )
        )
    if department:
        query = query.where(func.lower(User.department) == department.strip().lower())
    return db.session.scalars(query.order_by(User.username).limit(PEOPLE_LIMIT)).all()


def departments() -> Sequence[str | None]:
    return db.session.scalars(
        select(User.department)
        .where(User.department.is_not(None))
        .distinct()
        .order_by(User.department)
    ).all()


def open_items_for(admin: User, user: User) -> Sequence[RequestItem]:
    require_admin(admin, "see a person's items")
    return db.session.scalars(
        select(RequestItem)
        .where(RequestItem.beneficiary_id == user.id, RequestItem.open_key.is_not(None))
        .order_by(RequestItem.created_at.desc())
    ).all()


def open_tasks_of(admin: User, user: User) -> Sequence[HumanTask]:
    """Open tasks waiting on the person (theirs alone, or claimed by them)."""
    require_admin(admin, "see a person's tasks")
    return db.session.scalars(
        select(HumanTask)
        .where(
            HumanTask.status == "open",
            or_(HumanTask.candidate_user_id == user.id, HumanTask.claimed_by_id == user.id),
        )
        .order_by(HumanTask.created_at)
    ).all()


def history_of(admin: User, user: User, limit: int = 50) -> Sequence[AuditEvent]:
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


def list_groups(admin: User) -> list[tuple[Group, int]]:
    """Every group with its number of members, by name."""
    require_admin(admin, "list groups")
    counts: dict[str, int] = dict(
        db.session.execute(
            select(group_members.c.group_id, func.count()).group_by(group_members.c.group_id)
        ).all()
    )
    groups = db.session.scalars(select(Group).order_by(Group.name)).all()
    return [(group, counts.get(group.id, 0)) for group in groups]


def latest_changes(group: Group, limit: int = 10) -> Sequence[AccessChange]:
    return db.session.scalars(
        select(AccessChange)
        .where(AccessChange.group_id == group.id)
        .order_by(AccessChange.created_at.desc())
        .limit(limit)
    ).all()
