"""Who may act on a task: lanes resolved to people, with separation of duties."""

from engine.db import db
from engine.models import Group, HumanTask, RequestItem, User
from engine.models.directory import ADMINS_GROUP


def _admins() -> Group | None:
    return db.session.query(Group).filter_by(name=ADMINS_GROUP).one_or_none()


def _eligible(user: User | None, item: RequestItem) -> bool:
    """Nobody acts on an item they requested or that is for themselves."""
    return (
        user is not None and user.active and user.id not in (item.requester_id, item.beneficiary_id)
    )


def _group_with_eligible_member(group: Group | None, item: RequestItem) -> Group | None:
    if group is not None and any(_eligible(m, item) for m in group.members):
        return group
    return None


def resolve_candidates(lane: str | None, item: RequestItem) -> tuple[str | None, str | None]:
    """(candidate user id, candidate group id) for a lane; admins when nobody else may act."""
    app = item.application
    if lane == "Manager":
        manager = item.beneficiary.manager
        if _eligible(manager, item):
            return manager.id, None
    elif lane == "ApproverGroup":
        group = _group_with_eligible_member(app.approver_group, item)
        if group is not None:
            return None, group.id
    elif lane == "Fulfiller":
        group = _group_with_eligible_member(app.fulfiller_group, item)
        if group is not None:
            return None, group.id
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
