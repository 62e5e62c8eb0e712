"""Who may act on a task: lanes resolved to people, with separation of duties."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy import inspect, select

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


def approval_deciders(item_id: str, *, other_than: str | None = None) -> set[str]:
    """Who decided an approval stage of the item (except the task `other_than`): nobody decides
    two approval stages of one item."""
    query = select(HumanTask.completed_by_id).where(
        HumanTask.item_id == item_id,
        HumanTask.kind == "approval",
        HumanTask.status == "completed",
        HumanTask.completed_by_id.is_not(None),
    )
    if other_than is not None:
        query = query.where(HumanTask.id != other_than)
    deciders = set(db.session.scalars(query))
    # A decision of this very unit, not flushed yet (a workflow sync runs without autoflush).
    for row in db.session.identity_map.values():
        if (
            isinstance(row, HumanTask)
            and row.item_id == item_id
            and row.id != other_than
            and row.kind == "approval"
            and row.status == "completed"
            and row.completed_by_id
        ):
            deciders.add(row.completed_by_id)
    return deciders


def _excluded(item: RequestItem, lane: str | None) -> set[str]:
    """The people who may not act on a task of `lane` for the item: its requester and its
    beneficiary, and for an approval lane whoever decided an earlier approval stage."""
    excluded = {item.requester_id, item.beneficiary_id}
    # A new item (not yet in the database) has decided nothing: no query for a batch of them.
    if lane != "Fulfiller" and inspect(item).persistent:
        excluded |= approval_deciders(item.id)
    return excluded


def _eligible(user: User | None, excluded: set[str]) -> bool:
    return user is not None and user.active and user.id not in excluded


def _group_with_eligible_member(group_id: str | None, excluded: set[str]) -> str | None:
    """The group's id when at least one active member is not excluded."""
    if group_id is None:
        return None
    cache = _cache.get()
    if cache is not None and len(excluded) <= 2:
        # Three active members: at least one is neither the requester nor the beneficiary.
        if group_id not in cache:
            cache[group_id] = _some_active_members(group_id, 3)
        return group_id if any(m not in excluded for m in cache[group_id]) else None
    # One indexed lookup instead of loading the group and every member.
    member = db.session.scalar(
        select(group_members.c.user_id)
        .join(User, User.id == group_members.c.user_id)
        .where(
            group_members.c.group_id == group_id,
            User.active.is_(True),
            User.id.not_in(excluded),
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
    excluded = _excluded(item, lane)
    if lane == "Manager":
        # The beneficiary's manager; when they cannot decide (gone, the requester, or already
        # a decider of this item), the manager's manager; then admins.
        manager = item.beneficiary.manager
        if _eligible(manager, excluded):
            return manager.id, None
        above = manager.manager if manager is not None else None
        if _eligible(above, excluded):
            return above.id, None
    elif lane == "ApproverGroup":
        group_id = _group_with_eligible_member(app.approver_group_id, excluded)
        if group_id is not None:
            return None, group_id
    elif lane == "Fulfiller":
        group_id = _group_with_eligible_member(app.fulfiller_group_id, excluded)
        if group_id is not None:
            return None, group_id
    admins = _admins()
    return None, admins.id if admins else None


def may_decide(user: User, task: HumanTask) -> str | None:
    """Why `user` may not decide `task` whatever their groups, or None: a task is never decided
    by its requester or beneficiary, nor an approval by someone who decided another stage."""
    if not user.active:
        return f"{user.username} is deactivated"
    if user.id in (task.requester_id, task.beneficiary_id):
        return "nobody may act on an item they requested or that is for themselves"
    if task.kind == "approval" and user.id in approval_deciders(task.item_id, other_than=task.id):
        return "nobody decides two approval stages of the same item"
    return None


def is_candidate(user: User, task: HumanTask) -> bool:
    """True when `user` may claim or complete `task` (admins may act on any task but their own)."""
    if user.id in (task.requester_id, task.beneficiary_id):
        return False
    if task.candidate_user_id == user.id:
        return True
    group_ids = {g.id for g in user.groups}
    return task.candidate_group_id in group_ids or user.is_admin
