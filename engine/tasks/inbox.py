"""The inbox as ordered index reads: one equality branch per way a task reaches a person.

A task waits on one user or one group, so "my tasks" is the caller's own branch plus one branch
per group, each read from an index on (status, candidate, created_at, id) in page order and
merged (UNION ALL): a page reads only the rows it shows, however many tasks are open.
"""

from dataclasses import dataclass

from sqlalchemy import exists, func, or_, select, union_all
from sqlalchemy.orm import aliased

from engine.db import db, utcnow
from engine.errors import Invalid
from engine.models import Application, HumanTask, User
from engine.tasks import substitutes

ORDER = (HumanTask.created_at, HumanTask.id)
# all | claimable (unclaimed or mine) | mine (claimed by me) | assigned (to me by name) | groups
VIEWS = ("all", "claimable", "mine", "assigned", "groups")
COUNT_CAP = 1000


@dataclass(frozen=True)
class Filters:
    """Narrowing an inbox view: by application key, beneficiary username, lane, overdue."""

    application: str | None = None
    beneficiary: str | None = None
    lane: str | None = None
    overdue: bool = False

    def conditions(self) -> list:
        """WHERE conditions on human_tasks; an unknown application or person is a 422."""
        found = []
        if self.application:
            app_id = db.session.scalar(
                select(Application.id).where(Application.key == self.application)
            )
            if app_id is None:
                raise Invalid(f"unknown application {self.application!r}", field="application")
            found.append(HumanTask.application_id == app_id)
        if self.beneficiary:
            user_id = db.session.scalar(select(User.id).where(User.username == self.beneficiary))
            if user_id is None:
                raise Invalid(f"unknown user {self.beneficiary!r}", field="beneficiary")
            found.append(HumanTask.beneficiary_id == user_id)
        if self.lane:
            found.append(HumanTask.lane == self.lane)
        if self.overdue:
            found.append(HumanTask.due_at < utcnow())
        return found


def branches(user: User, view: str = "all", filters: Filters | None = None) -> list:
    """SELECTs of (id, created_at) of the open tasks `user` may act on in `view`, one per index
    equality; empty when the view holds nothing for them."""
    base = select(HumanTask.id, HumanTask.created_at).where(HumanTask.status == "open")
    if filters is not None:
        base = base.where(*filters.conditions())
    if view == "mine":
        return [base.where(HumanTask.claimed_by_id == user.id)]
    # Nobody acts on their own item, admins included, so it never shows in their inbox; nor
    # on an approval of an item whose other approval stage they decided (one index probe per
    # row a page reads).
    base = base.where(
        HumanTask.requester_id != user.id,
        HumanTask.beneficiary_id != user.id,
        or_(HumanTask.kind != "approval", ~_decided_another_stage(user)),
    )
    if view == "claimable":
        base = base.where(
            or_(HumanTask.claimed_by_id.is_(None), HumanTask.claimed_by_id == user.id)
        )
    if user.is_admin and view in ("all", "claimable"):
        return [base]  # admins may act on every task
    # The caller, and the people they stand in for as a substitute (their own inbox included).
    people = [user, *substitutes.principals(user)]
    found = []
    if view in ("all", "claimable", "assigned"):
        found += [base.where(HumanTask.candidate_user_id == p.id) for p in people]
    if view in ("all", "claimable", "groups"):
        group_ids = sorted({g.id for p in people for g in p.groups})
        found += [base.where(HumanTask.candidate_group_id == g) for g in group_ids]
    return found


def _decided_another_stage(user: User):
    other = aliased(HumanTask)
    return exists().where(
        other.item_id == HumanTask.item_id,
        other.spec_name != HumanTask.spec_name,
        other.completed_by_id == user.id,
        other.kind == "approval",
        other.status == "completed",
    )


def page_query(user: User, view: str, after, limit: int | None, filters: Filters | None = None):
    """The tasks of one page in (created_at, id) order: each branch ordered and cut at `limit`
    on its own (after the cursor condition `after`, if any), then merged and cut again."""
    parts = [
        select(_ordered(branch, after).limit(limit).subquery())
        for branch in branches(user, view, filters)
    ]  # limit None: the whole view
    if not parts:
        return None
    merged = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery()
    return select(HumanTask).join(merged, HumanTask.id == merged.c.id).order_by(*ORDER).limit(limit)


def count_query(user: User, view: str, cap: int, filters: Filters | None = None):
    """How many tasks `view` holds, counting at most cap + 1 (read as "more than cap")."""
    parts = [
        select(_ordered(branch).limit(cap + 1).subquery())
        for branch in branches(user, view, filters)
    ]
    if not parts:
        return None
    merged = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery()
    return select(func.count()).select_from(select(merged.c.id).limit(cap + 1).subquery())


def _ordered(branch, after=None):
    if after is not None:
        branch = branch.where(after)
    return branch.order_by(*ORDER)
