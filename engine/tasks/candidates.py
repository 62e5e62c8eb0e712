"""Who may act on a task: lanes resolved to people, with separation of duties."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy import select

from engine.db import db
from engine.models import Group, HumanTask, RequestItem, User, group_members
from engine.models.directory import ADMINS_GROUP

# Within `cached()`: {group id: up to 3 of its active members' ids}, and the admins group.
_cache: ContextVar[dict | None] = ContextVar("candidates_cache", default=None)


@contextmanager
def cached() -> Iterator[None]:
    """Look each group's members up once inside the block (a batch starting thousands of items
    whose first task goes to the same fulfiller group); for a batch in one transaction whose
    memberships it does not change meanwhile. Nested blocks share the outer cache."""
    if _cache.get() is not None:
        yield
        return
    token = _cache.set({})
    try:
        yield
    finally:
        _cache.reset(token)


def _admins() -> Group | None:
    cache = _cache.get()
    if cache is not None:
        if "admins" not in cache:
            cache["admins"] = _find_admins()
        return cache["admins"]
    return _find_admins()


def _find_admins() -> Group | None:
    return db.session.query(Group).filter_by(name=ADMINS_GROUP).one_or_none()


def _eligible(user: User | None, item: RequestItem) -> bool:
    """Nobody acts on an item they requested or that is for themselves."""
    return (
        user is not None and user.active and user.id not in (item.requester_id, item.beneficiary_id)
    )


def _group_with_eligible_member(group_id: str | None, item: RequestItem) -> str | None:
    """The group's id when at least one active member is neither requester nor beneficiary."""
    if group_id is None:
        return None
    cache = _cache.get()
    if cache is not None:
        # Three active members: at least one is neither the requester nor the beneficiary.
        if group_id not in cache:
            cache[group_id] = _some_active_members(group_id, 3)
        excluded = (item.requester_id, item.beneficiary_id)
        return group_id if any(m not in excluded for m in cache[group_id]) else None
    # One indexed lookup instead of loading the group and every member.
    member = db.session.scalar(
        select(group_members.c.user_id)
        .join(User, User.id == group_members.c.user_id)
        .where(
            group_members.c.group_id == group_id,
            User.active.is_(True),
            User.id.not_in((item.requester_id, item.beneficiary_id)),
        )
        .limit(1)
    )
    return group_id if member is not None else None


def _some_active_members(group_id: str, limit: int) -> list[str]:
    return list(
        db.session.scalars(
            select(group_members.c.user_id)
            .join(User, User.id == group_members.c.user_id)
            .where(group_members.c.group_id == group_id, User.active.is_(True))
            .limit(limit)
        )
    )


def resolve_candidates(lane: str | None, item: RequestItem) -> tuple[str | None, str | None]:
    """(candidate user id, candidate group id) for a lane; admins when nobody else may act."""
    app = item.application
    if lane == "Manager":
        # The beneficiary's manager; when they cannot decide (gone, or the requester), the
        # manager's manager; then admins.
        manager = item.beneficiary.manager
        if _eligible(manager, item):
            return manager.id, None
        above = manager.manager if manager is not None else None
        if _eligible(above, item):
            return above.id, None
    elif lane == "ApproverGroup":
        group_id = _group_with_eligible_member(app.approver_group_id, item)
        if group_id is not None:
            return None, group_id
    elif lane == "Fulfiller":
        group_id = _group_with_eligible_member(app.fulfiller_group_id, item)
        if group_id is not None:
            return None, group_id
    admins = _admins()
    return None, admins.id if admins else None


def is_candidate(user: User, task: HumanTask) -> bool:
    """True when `user` may claim or complete `task` (admins may act on any task but their own)."""
    if user.id in (task.requester_id, task.beneficiary_id):
        return False
    if task.candidate_user_id == user.id:
        return True
    group_ids = {g.id for g in user.groups}
    return task.candidate_group_id in group_ids or user.is_admin
