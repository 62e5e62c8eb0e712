"""Joiners, movers and leavers: what changes in people's access when the directory changes."""

from sqlalchemy import delete, select

from engine.access import assignments, notify
from engine.access import items as access_items
from engine.audit import trail
from engine.db import db, utcnow
from engine.errors import Invalid, NotFound
from engine.models import (
    Account,
    ApiToken,
    Application,
    Group,
    HumanTask,
    RequestItem,
    User,
    group_members,
)
from engine.requests import items
from engine.tasks.candidates import resolve_candidates


def person(username: str, *, lock: bool = False) -> User:
    """A person by username, active or not; locked on PostgreSQL while a change runs."""
    query = select(User).where(User.username == username)
    if lock and db.engine.dialect.name == "postgresql":
        query = query.with_for_update()
    user = db.session.scalar(query)
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


def deactivate(actor: User | None, username: str, reason: str | None = None) -> User:
    """A leaver: sign-in ends, group memberships go, every assignment ends with a removal of
    the accounts, open items for them are cancelled, their claims are released and the
    approvals waiting on them move to the fallback (their manager, else `admins`)."""
    user = person(username, lock=True)
    if not user.active:
        return user
    actor_id = actor.id if actor else None
    why = f"{username} left" + (f": {reason}" if reason else "")
    user.active, user.deactivated_at = False, utcnow()
    user.session_version = (user.session_version or 1) + 1
    for token in db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    ):
        token.revoked_at = utcnow()
    groups = list(
        db.session.scalars(
            select(Group.name)
            .join(group_members, group_members.c.group_id == Group.id)
            .where(group_members.c.user_id == user.id)
        )
    )
    db.session.execute(delete(group_members).where(group_members.c.user_id == user.id))
    db.session.expire(user, ["groups"])
    trail.record("user_deactivated", actor_id, comment=reason, user=username, groups=groups)
    cancelled = db.session.scalars(
        select(RequestItem).where(
            RequestItem.beneficiary_id == user.id, RequestItem.open_key.is_not(None)
        )
    ).all()
    for item in cancelled:
        items.stop_item(item, actor_id, why)
    ended = assignments.active(user.id)
    for assignment in ended:
        assignments.end(assignment, actor_id, why)
    db.session.flush()
    held_ids = select(Account.application_id).where(
        Account.user_id == user.id, Account.status == "active", Account.ended_at.is_(None)
    )
    held = db.session.scalars(
        select(Application).where(Application.id.in_(held_ids)).order_by(Application.key)
    ).all()
    for app in held:
        access_items.start_item(
            user, app, origin="leaver", account_mode="remove", actor=actor, reason=why
        )
    notify.leaver(user, actor, reason, removing=held, ended=ended, cancelled=cancelled)
    _hand_over_tasks(user, actor_id)
    return user


def _hand_over_tasks(user: User, actor_id: str | None) -> None:
    """Release what the person claimed; re-resolve the tasks only they could decide."""
    for task in db.session.scalars(
        select(HumanTask).where(HumanTask.status == "open", HumanTask.claimed_by_id == user.id)
    ).all():
        task.claimed_by_id, task.claimed_at = None, None
        trail.record("released", actor_id, item=task.item, task_id=task.id, reason="leaver")
    _reroute(select(HumanTask).where(HumanTask.candidate_user_id == user.id), actor_id)


def _reroute(query, actor_id: str | None) -> int:
    """Give open tasks the candidates their lane resolves to now; returns how many moved."""
    moved = 0
    for task in db.session.scalars(query.where(HumanTask.status == "open")).all():
        user_id, group_id = resolve_candidates(task.lane, task.item, task.spec_name)
        if (user_id, group_id) == (task.candidate_user_id, task.candidate_group_id):
            continue
        task.candidate_user_id, task.candidate_group_id = user_id, group_id
        if task.claimed_by_id not in (None, user_id):
            task.claimed_by_id, task.claimed_at = None, None
        trail.record(
            "task_reassigned",
            actor_id,
            item=task.item,
            task_id=task.id,
            candidate_user_id=user_id,
            candidate_group_id=group_id,
        )
        moved += 1
    return moved


def reactivate(actor: User | None, username: str, reason: str | None = None) -> User:
    """Let a person sign in again; no access comes back by itself (groups are re-added)."""
    user = person(username, lock=True)
    if user.active:
        return user
    user.active, user.deactivated_at = True, None
    trail.record("user_reactivated", actor.id if actor else None, comment=reason, user=username)
    return user


def set_manager(actor: User | None, username: str, manager: str | None) -> User:
    """A mover: the new manager takes over the manager approvals still open for the person."""
    user = person(username, lock=True)
    boss = person(manager) if manager else None
    if boss is not None and not boss.active:
        raise Invalid(f"{manager} is deactivated and cannot manage anyone", field="manager")
    if boss is not None and _manages(user, boss):
        raise Invalid(f"{manager} reports to {username}: that would be a cycle", field="manager")
    if user.manager_id == (boss.id if boss else None):
        return user
    before = user.manager.username if user.manager else None
    user.manager = boss
    actor_id = actor.id if actor else None
    trail.record("manager_changed", actor_id, user=username, before=before, after=manager)
    db.session.flush()
    reroute_manager_tasks(actor_id, user)
    return user


def reroute_manager_tasks(actor_id: str | None, user: User) -> int:
    """Open manager approvals of items for `user` go to whoever the lane resolves to now."""
    beneficiary_items = select(RequestItem.id).where(RequestItem.beneficiary_id == user.id)
    return _reroute(
        select(HumanTask).where(
            HumanTask.lane == "Manager", HumanTask.item_id.in_(beneficiary_items)
        ),
        actor_id,
    )


def _manages(user: User, boss: User) -> bool:
    """True when `user` is `boss` or above them in the management chain."""
    seen: set[str] = set()
    current: User | None = boss
    while current is not None and current.id not in seen:
        if current.id == user.id:
            return True
        seen.add(current.id)
        current = current.manager
    return False
