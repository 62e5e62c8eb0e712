"""Who may act on a task: lanes resolved to people, with separation of duties."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy import inspect, select

from engine.db import db
from engine.models import Group, HumanTask, RequestItem, User, group_members
from engine.models.directory import ADMINS_GROUP
from engine.workflow import lanes

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


def approval_deciders(item_id: str, stage: str | None) -> set[str]:
    """Who decided an approval stage of the item other than `stage` (a task's BPMN id: the
    instances of one multi-instance task, or a stage met again in a loop, are one stage).
    Nobody decides two approval stages of one item."""
    query = select(HumanTask.completed_by_id).where(
        HumanTask.item_id == item_id,
        HumanTask.kind == "approval",
        HumanTask.status == "completed",
        HumanTask.completed_by_id.is_not(None),
    )
    if stage is not None:
        query = query.where(HumanTask.spec_name != stage)
    deciders = set(db.session.scalars(query))
    # A decision of this very unit, not flushed yet (a workflow sync runs without autoflush).
    for row in db.session.identity_map.values():
        if (
            isinstance(row, HumanTask)
            and row.item_id == item_id
            and row.spec_name != stage
            and row.kind == "approval"
            and row.status == "completed"
            and row.completed_by_id
        ):
            deciders.add(row.completed_by_id)
    return deciders


def _excluded(item: RequestItem, lane: str | None, stage: str | None) -> set[str]:
    """The people who may not act on a task of `lane` for the item: its requester and its
    beneficiary, and for an approval lane whoever decided another approval stage."""
    excluded = {item.requester_id, item.beneficiary_id}
    # A new item (not yet in the database) has decided nothing: no query for a batch of them.
    state = inspect(item, raiseerr=False)  # None for an ItemDraft: a batch's new item
    if lane != "Fulfiller" and state is not None and state.persistent:
        excluded |= approval_deciders(item.id, stage)
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


def resolve_candidates(
    lane: str | None, item: RequestItem, stage: str | None = None
) -> tuple[str | None, str | None]:
    """(candidate user id, candidate group id) for a lane (engine/workflow/lanes.py).

    When the lane names nobody who may decide (gone, the requester or the beneficiary, already
    a decider of this item), the fallback is the beneficiary's manager's manager, then
    `admins`; a fulfilment goes straight to `admins`."""
    excluded = _excluded(item, lane, stage)
    found = _lane_people(lane, item, excluded)
    if found is not None:
        return found
    manager = item.beneficiary.manager
    above = manager.manager if manager is not None else None
    if lane != "Fulfiller" and _eligible(above, excluded):
        return above.id, None
    admins = _admins()
    return None, admins.id if admins else None


def _lane_people(lane, item, excluded) -> tuple[str | None, str | None] | None:
    """Who the lane itself names, or None when nobody in it may decide."""
    app = item.application
    manager = item.beneficiary.manager
    if lane == "Manager" and _eligible(manager, excluded):
        return manager.id, None
    if lane in ("Manager", "SecondLevelManager"):
        return None  # the fallback is the manager's manager
    if lane == "ApplicationOwner":
        owner = db.session.get(User, app.owner_user_id) if app.owner_user_id else None
        if _eligible(owner, excluded):
            return owner.id, None
        group_id = app.owner_group_id
    elif lane == "ApproverGroup":
        group_id = app.approver_group_id
    elif lane == "Fulfiller":
        group_id = app.fulfiller_group_id
    else:
        group_id = _group_id(lanes.group_for(app, lane)) if lane else None
    group_id = _group_with_eligible_member(group_id, excluded)
    return (None, group_id) if group_id is not None else None


def _group_id(name: str | None) -> str | None:
    if name is None:
        return None
    cache = _cache.get()
    key = f"group:{name}"
    if cache is not None and key in cache:
        return cache[key]
    found = db.session.scalar(select(Group.id).where(Group.name == name))
    if cache is not None:
        cache[key] = found
    return found


def excluded_for(task: HumanTask) -> set[str]:
    """Everyone who may never decide `task`, whatever their groups (see may_decide)."""
    excluded = {task.requester_id, task.beneficiary_id}
    if task.kind == "approval":
        excluded |= approval_deciders(task.item_id, task.spec_name)
    return excluded


def may_decide(user: User, task: HumanTask) -> str | None:
    """Why `user` may not decide `task` whatever their groups, or None: a task is never decided
    by its requester or beneficiary, nor an approval by someone who decided another stage."""
    if not user.active:
        return f"{user.username} is deactivated"
    if user.id in (task.requester_id, task.beneficiary_id):
        return "nobody may act on an item they requested or that is for themselves"
    if task.kind == "approval" and user.id in approval_deciders(task.item_id, task.spec_name):
        return "nobody decides two approval stages of the same item"
    return None


def is_candidate(user: User, task: HumanTask) -> bool:
    """True when `user` may claim or complete `task` (admins may act on any task but their own),
    themselves or as the substitute of a candidate."""
    if user.id in (task.requester_id, task.beneficiary_id):
        return False
    return _named(user, task) or acting_for(user, task) is not None


def _named(user: User, task: HumanTask) -> bool:
    if task.candidate_user_id == user.id:
        return True
    group_ids = {g.id for g in user.groups}
    return task.candidate_group_id in group_ids or user.is_admin


def acting_for(user: User, task: HumanTask) -> User | None:
    """The person `user` stands in for on `task`, when they are a candidate only as a
    substitute (engine/tasks/substitutes.py); else None."""
    if _named(user, task):
        return None
    from engine.tasks.substitutes import principals

    return next((p for p in principals(user) if _named(p, task)), None)
