"""Group-based provisioning: what a group grants follows its members and its applications.

Every change (a join, a leave, an application added or taken away) records itself and then
brings the group's assignments in line with what it grants: in the change's own transaction
when few people and applications are concerned, else through an `AccessChange` a worker applies
(one transaction, idempotent: it compares, so a crash or a second run changes nothing more).
"""

from sqlalchemy import delete, func, insert, select

from engine.access import changes
from engine.audit import trail
from engine.db import db, utcnow
from engine.directory.lookup import application_by_key, user_by_username
from engine.errors import Invalid, NotFound
from engine.models import Assignment, Group, GroupApplication, User, group_members

# Person × application pairs a change applies at once; a bigger one goes to the worker.
INLINE_PAIRS = 50


def group_by_name(name: str, *, lock: bool = False) -> Group:
    """The group, optionally locked (PostgreSQL) so that changes to one group queue up."""
    query = select(Group).where(Group.name == name)
    if lock and db.engine.dialect.name == "postgresql":
        query = query.with_for_update()
    group = db.session.scalar(query)
    if group is None:
        raise NotFound(f"no group {name!r}")
    return group


def member_ids(group: Group) -> list[str]:
    return list(
        db.session.scalars(
            select(group_members.c.user_id).where(group_members.c.group_id == group.id)
        )
    )


def group_applications(group: Group) -> list[GroupApplication]:
    return list(
        db.session.scalars(select(GroupApplication).where(GroupApplication.group_id == group.id))
    )


def add_member(actor: User | None, group_name: str, username: str, reason=None) -> bool:
    """Put a person in a group (a joiner); False when they were in it already."""
    group = group_by_name(group_name, lock=True)
    person = _joiner(username)
    if person.id in member_ids(group):
        return False
    db.session.execute(insert(group_members).values(group_id=group.id, user_id=person.id))
    db.session.expire(person, ["groups"])
    _changed(
        actor,
        group,
        "group_member_added",
        f"{username} joined {group.name}",
        reason,
        pairs=len(group_applications(group)),
        user=username,
    )
    return True


def _joiner(username: str) -> User:
    """The person joining: a deactivated one is refused by name, so the admin knows why."""
    person = db.session.scalar(select(User).where(User.username == username))
    if person is not None and not person.active:
        raise Invalid(f"{username} is deactivated: reactivate them first", field="username")
    return user_by_username(username, field="username")


def remove_member(actor: User | None, group_name: str, username: str, reason=None) -> bool:
    """Take a person out of a group (what it granted them ends); False when not a member."""
    group = group_by_name(group_name, lock=True)
    person = db.session.scalar(select(User).where(User.username == username))
    if person is None:
        raise NotFound(f"no user {username!r}")
    removed = db.session.execute(
        delete(group_members).where(
            group_members.c.group_id == group.id, group_members.c.user_id == person.id
        )
    ).rowcount
    if not removed:
        return False
    db.session.expire(person, ["groups"])
    _changed(
        actor,
        group,
        "group_member_removed",
        f"{username} left {group.name}",
        reason,
        pairs=len(group_applications(group)),
        user=username,
    )
    return True


def add_application(actor, group_name: str, key: str, role: str | None = None, reason=None):
    """Grant an application (optionally a role of it) to every member of a group."""
    group = group_by_name(group_name, lock=True)
    app = application_by_key(key)
    if role is not None and role not in app.role_names:
        raise Invalid(f"{app.name} has no role {role!r}", field="role")
    row = db.session.get(GroupApplication, (group.id, app.id))
    if row is not None and row.role == role:
        return row
    if row is None:
        row = GroupApplication(group_id=group.id, application_id=app.id, application=app)
        db.session.add(row)
    row.role, row.added_by_id, row.added_at = role, actor.id if actor else None, utcnow()
    _changed(
        actor,
        group,
        "group_application_added",
        f"{group.name} grants {app.name}",
        reason,
        pairs=len(member_ids(group)),
        application=app.key,
        role=role,
    )
    return row


def remove_application(actor, group_name: str, key: str, reason=None) -> bool:
    """Stop granting an application through a group; members keep it only from other sources."""
    group = group_by_name(group_name, lock=True)
    app = application_by_key(key)
    row = db.session.get(GroupApplication, (group.id, app.id))
    if row is None:
        return False
    db.session.delete(row)
    _changed(
        actor,
        group,
        "group_application_removed",
        f"{group.name} no longer grants {app.name}",
        reason,
        pairs=len(member_ids(group)),
        application=app.key,
    )
    return True


def _changed(actor, group, event, what, reason, *, pairs, **details) -> None:
    actor_id = actor.id if actor else None
    trail.record(event, actor_id, comment=reason, group=group.name, **details)
    db.session.flush()
    if pairs <= INLINE_PAIRS:
        changes.apply(group, actor, reason or what)
    else:
        changes.queue(group, actor_id, reason or what)


def holdings(group: Group) -> dict:
    """What a group grants and to how many of its members it is assigned now."""
    apps = group_applications(group)
    rows = db.session.execute(
        select(Assignment.application_id, func.count())
        .where(
            Assignment.source == "group",
            Assignment.source_id == group.id,
            Assignment.ended_at.is_(None),
        )
        .group_by(Assignment.application_id)
    ).all()
    held = dict(rows)
    return {row.application.key: held.get(row.application_id, 0) for row in apps}


def set_members(actor: User | None, group: Group, usernames: list[str], reason: str) -> dict:
    """Make the group's members exactly these people (an import): one diff, one apply."""
    wanted = {}
    for username in dict.fromkeys(usernames):
        user = db.session.scalar(select(User).where(User.username == username))
        if user is None:
            raise Invalid(f"unknown member {username!r}", field="members")
        wanted[user.id] = username
    current = set(member_ids(group))
    joined = [uid for uid in wanted if uid not in current]
    left = [uid for uid in current if uid not in wanted]
    if joined:
        db.session.execute(
            insert(group_members), [{"group_id": group.id, "user_id": uid} for uid in joined]
        )
    if left:
        db.session.execute(
            delete(group_members).where(
                group_members.c.group_id == group.id, group_members.c.user_id.in_(left)
            )
        )
    if joined or left:
        db.session.expire_all()
        _changed(
            actor,
            group,
            "group_members_set",
            f"{group.name}: members changed",
            reason,
            pairs=(len(joined) + len(left)) * max(1, len(group_applications(group))),
            joined=len(joined),
            left=len(left),
        )
    return {"joined": len(joined), "left": len(left)}


def set_applications(actor: User | None, group: Group, grants: list[dict], reason: str) -> dict:
    """Make the group grant exactly these applications (an import): one diff, one apply."""
    wanted = {}
    for grant in grants:
        app = application_by_key(grant["application"])
        role = grant.get("role")
        if role is not None and role not in app.role_names:
            raise Invalid(f"{app.name} has no role {role!r}", field="role")
        wanted[app.id] = (app, role)
    current = {row.application_id: row for row in group_applications(group)}
    changed = 0
    for app_id, row in current.items():
        if app_id not in wanted:
            db.session.delete(row)
            changed += 1
    for app_id, (app, role) in wanted.items():
        kept = current.get(app_id)
        if kept is None:
            db.session.add(
                GroupApplication(
                    group_id=group.id,
                    application_id=app_id,
                    application=app,
                    role=role,
                    added_by_id=actor.id if actor else None,
                )
            )
            changed += 1
        elif kept.role != role:
            kept.role = role
            changed += 1
    if changed:
        _changed(
            actor,
            group,
            "group_applications_set",
            f"{group.name}: applications changed",
            reason,
            pairs=changed * max(1, len(member_ids(group))),
            applications=sorted(app.key for app, _ in wanted.values()),
        )
    return {"changed": changed}
