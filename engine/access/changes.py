"""Applying a group's grants: compare what it grants with what it holds, start the difference.

`apply` runs inside the caller's unit of work. `queue` leaves the work to `accessflow worker`,
which takes one queued change at a time under a lease (FOR UPDATE SKIP LOCKED on PostgreSQL)
and applies it in one transaction, so 10,000 new items either all exist or none do.
"""

import gc
import logging
from datetime import timedelta

from sqlalchemy import and_, insert, or_, select, update

from engine import settings
from engine.access import assignments
from engine.access import items as access_items
from engine.audit import trail
from engine.db import db, new_id, utcnow
from engine.models import (
    AccessChange,
    Account,
    Assignment,
    Group,
    GroupApplication,
    RequestItem,
    User,
    group_members,
)
from engine.models.lifecycle import active_key
from engine.tasks import candidates
from engine.unit_of_work import unit_of_work

log = logging.getLogger(__name__)
LEASE_SECONDS = 600.0
_INSERT_ASSIGNMENTS = insert(Assignment.__table__)  # type: ignore[arg-type]  # a Table at run time


def queue(group: Group, actor_id: str | None, reason: str) -> AccessChange:
    """Ask the worker to bring the group in line; a change already queued for it covers this."""
    queued = db.session.scalar(
        select(AccessChange).where(
            AccessChange.group_id == group.id, AccessChange.status == "queued"
        )
    )
    if queued is not None:
        queued.reason = f"{queued.reason}; {reason}"[:2000]
        return queued
    change = AccessChange(id=new_id(), group_id=group.id, requested_by_id=actor_id, reason=reason)
    db.session.add(change)
    return change


def apply(group: Group, actor: User | None, reason: str) -> dict:
    """Start and end the group's assignments so they match its members × applications, with
    the items that create or remove the accounts; returns the counts."""
    was_enabled = gc.isenabled()
    gc.disable()  # thousands of objects live until the commit: collecting them is wasted work
    try:
        # Per batch, not per item: the audit rows are written at once, the setting and the
        # fulfiller groups' members are read once, and nothing is flushed until the end.
        with trail.batched(), settings.cached(), candidates.cached():
            return _apply(group, actor, reason)
    finally:
        if was_enabled:
            gc.enable()


def _apply(group: Group, actor: User | None, reason: str) -> dict:
    actor_id = actor.id if actor else None
    grants = {row.application_id: row for row in _group_apps(group)}
    members = _active_members(group)
    current = {
        (a.user_id, a.application_id): a
        for a in db.session.scalars(
            select(Assignment).where(
                Assignment.source == "group",
                Assignment.source_id == group.id,
                Assignment.ended_at.is_(None),
            )
        )
    }
    wanted = {(user.id, app_id) for user in members.values() for app_id in grants}
    counts = {"assigned": 0, "unassigned": 0, "items": 0}
    ended = []
    for key, assignment in current.items():
        grant = grants.get(key[1])
        if grant is None or key not in wanted or grant.role != assignment.role:
            why = "left the group" if key[0] not in members else "no longer granted by the group"
            assignments.end(assignment, actor_id, f"{group.name}: {why} ({reason})")
            counts["unassigned"] += 1
            if key not in wanted:
                ended.append(assignment)
    db.session.flush()  # the ended rows free their active keys for the rows inserted below
    held = _held(group)  # (user, app) pairs held from another source, or with an account
    busy = _open_slots(group)
    starts = sorted(wanted - set(k for k, a in current.items() if a.ended_at is None))
    new_assignments, drafts = [], []
    with db.session.no_autoflush:  # the loop reads nothing it writes
        for user_id, app_id in starts:
            grant, person = grants[app_id], members[user_id]
            app = grant.application
            if not app.enabled:
                continue  # out of the catalog: no new access through the group either
            row = _assignment(person, app, group, grant.role, actor_id, reason)
            new_assignments.append(row)
            if (user_id, app_id) in held or f"{user_id}:{app_id}" in busy:
                continue  # the person has the access already, or an item in flight brings it
            drafts.append(
                access_items.item_draft(
                    person,
                    app,
                    origin="group",
                    account_mode="create",
                    actor=actor,
                    reason=f"member of {group.name}",
                    role=grant.role,
                    assignment_id=row["id"],
                )
            )
            busy.add(f"{user_id}:{app_id}")
        if new_assignments:  # one INSERT of many rows, in this transaction
            db.session.execute(_INSERT_ASSIGNMENTS, new_assignments)
        access_items.start_items(drafts)
    counts["assigned"] += len(new_assignments)
    counts["items"] += len(drafts)
    db.session.flush()
    for assignment in ended:
        person = db.session.get_one(User, assignment.user_id)
        removal = access_items.remove_if_unassigned(
            person,
            assignment.application,
            origin="group",
            actor=actor,
            reason=f"{group.name}: {reason}",
        )
        counts["items"] += removal is not None and removal.kind == "remove"
    return counts


def _assignment(person, app, group, role, actor_id, reason) -> dict:
    """The row of a group assignment (written with the others of the batch), its event recorded;
    without the per-row lookups `assignments.grant` makes."""
    now = utcnow()
    row = {
        "id": new_id(),
        "user_id": person.id,
        "application_id": app.id,
        "role": role,
        "source": "group",
        "source_id": group.id,
        "active_key": active_key(person.id, app.id, "group", group.id),
        "item_id": None,
        "created_at": now,
        "created_by_id": actor_id,
        "reason": f"member of {group.name}: {reason}",
        "starts_at": now,
        "ends_at": None,
    }
    trail.record(
        "access_assigned",
        actor_id,
        assignment_id=row["id"],
        user=person.username,
        application=app.key,
        source="group",
        group=group.name,
        role=role,
    )
    return row


def _group_apps(group: Group) -> list[GroupApplication]:
    return list(
        db.session.scalars(select(GroupApplication).where(GroupApplication.group_id == group.id))
    )


def _active_members(group: Group) -> dict[str, User]:
    return {
        user.id: user
        for user in db.session.scalars(
            select(User)
            .join(group_members, group_members.c.user_id == User.id)
            .where(group_members.c.group_id == group.id, User.active.is_(True))
        )
    }


def _held(group: Group) -> set[tuple[str, str]]:
    """(member, granted app) pairs the member holds already: an active assignment from another
    source, or an active account on record (linked then, never a second one)."""
    member = select(group_members.c.user_id).where(group_members.c.group_id == group.id)
    granted = select(GroupApplication.application_id).where(GroupApplication.group_id == group.id)
    other = select(Assignment.user_id, Assignment.application_id).where(
        Assignment.user_id.in_(member),
        Assignment.application_id.in_(granted),
        Assignment.ended_at.is_(None),
        or_(Assignment.source != "group", Assignment.source_id != group.id),
    )
    owned = select(Account.user_id, Account.application_id).where(
        Account.user_id.in_(member),
        Account.application_id.in_(granted),
        Account.status == "active",
        Account.ended_at.is_(None),
    )
    return {(row[0], row[1]) for row in db.session.execute(other.union(owned))}


def _open_slots(group: Group) -> set[str]:
    """Open keys of the items in flight for the group's members."""
    member = select(group_members.c.user_id).where(group_members.c.group_id == group.id)
    return set(
        db.session.scalars(
            select(RequestItem.open_key).where(
                RequestItem.beneficiary_id.in_(member), RequestItem.open_key.is_not(None)
            )
        )
    )


def take(worker_id: str) -> str | None:
    """Lease the oldest queued change (or one whose worker died); its id, or None."""
    now = utcnow()
    due = or_(
        AccessChange.status == "queued",
        and_(AccessChange.status == "running", AccessChange.lease_expires_at < now),
    )
    with unit_of_work():
        query = select(AccessChange.id).where(due).order_by(AccessChange.created_at).limit(1)
        if db.engine.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        change_id = db.session.scalar(query)
        if change_id is None:
            return None
        won = db.session.execute(
            update(AccessChange)
            .where(AccessChange.id == change_id, due)
            .values(
                status="running",
                lease_owner=worker_id,
                lease_expires_at=now + timedelta(seconds=LEASE_SECONDS),
                started_at=now,
                attempts=AccessChange.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
    return change_id if won else None


def run(change_id: str, worker_id: str) -> dict | None:
    """Apply a change this worker holds, in one transaction; a failure is kept on the row."""
    try:
        with unit_of_work():
            # Fresh from the row: `take` leased it with an UPDATE the session did not see.
            change = db.session.get(
                AccessChange, change_id, with_for_update=_pg(), populate_existing=True
            )
            if change is None or change.lease_owner != worker_id or change.status != "running":
                return None
            group = db.session.get_one(Group, change.group_id, with_for_update=_pg())
            actor = db.session.get(User, change.requested_by_id) if change.requested_by_id else None
            counts = apply(group, actor, change.reason or "group changed")
            change.status, change.counts, change.finished_at = "done", counts, utcnow()
            change.lease_owner = change.lease_expires_at = None
            log.info("access change %s applied to group %s: %s", change_id, group.name, counts)
            return counts
    except Exception as err:
        log.exception("access change %s failed", change_id)
        with unit_of_work():
            change = db.session.get(AccessChange, change_id, populate_existing=True)
            if change is not None and change.lease_owner == worker_id:
                change.status = "failed" if change.attempts >= 3 else "queued"
                change.error = f"{type(err).__name__}: {err}"[:2000]
                change.lease_owner = change.lease_expires_at = None
        return None


def run_due(worker_id: str) -> int:
    """Apply queued changes until none is left; returns how many were applied."""
    done = 0
    while (change_id := take(worker_id)) is not None:
        done += run(change_id, worker_id) is not None
    return done


def _pg() -> bool:
    return db.engine.dialect.name == "postgresql"
