"""Groups an identity provider pushes: SCIM Group resources to and from accessflow's groups.

Membership changes go through engine.access.groups, so joining and leaving drive group-based
provisioning exactly as the admin pages do."""

from scim2_models import InvalidValueException, NotFoundException, UniquenessException
from sqlalchemy import select

from engine.access import groups as access
from engine.audit import trail
from engine.db import db, utcnow
from engine.models import Group, User, group_members
from engine.models.directory import ADMINS_GROUP, DESIGNERS_GROUP
from engine.scim.people import REASON
from engine.scim.resources import bounded, set_or_drop, with_meta

CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
# Up to this many joins and leaves are applied one by one (an audit row per person); more
# (an initial push) as one diff through the import's service.
ONE_BY_ONE = 20


# Who administers accessflow and who designs its workflows is decided in accessflow: an IdP's
# token must not be able to make someone an admin, so these groups are not served at all.
RESERVED = (ADMINS_GROUP, DESIGNERS_GROUP)


def visible():
    return select(Group).where(Group.scim_deleted_at.is_(None), Group.name.not_in(RESERVED))


def find_group(group_id: str, *, lock: bool = False) -> Group:
    query = visible().where(Group.id == group_id)
    if lock and db.engine.dialect.name == "postgresql":
        query = query.with_for_update()
    group = db.session.scalar(query)
    if group is None:
        raise NotFoundException(detail=f"no Group {group_id!r}")
    return group


def members_of(group_ids: list[str]) -> dict[str, list[tuple[str, str]]]:
    """{group id: [(user id, display)]} for a page of groups, in one query."""
    found: dict[str, list[tuple[str, str]]] = {gid: [] for gid in group_ids}
    rows = db.session.execute(
        select(group_members.c.group_id, User.id, User.display_name, User.username)
        .join(User, User.id == group_members.c.user_id)
        .where(group_members.c.group_id.in_(group_ids), User.scim_deleted_at.is_(None))
        .order_by(User.username)
    )
    for group_id, user_id, display, username in rows:
        found[group_id].append((user_id, display or username))
    return found


def group_resource(group: Group, members: list[tuple[str, str]]) -> dict:
    data: dict = {"schemas": [CORE_GROUP], "id": group.id, "displayName": group.name}
    set_or_drop(data, "externalId", group.external_id)
    set_or_drop(
        data,
        "members",
        [
            {"value": uid, "display": d, "type": "User", "$ref": f"Users/{uid}"}
            for uid, d in members
        ],
    )
    return with_meta(data, "Group", group.created_at, group.modified_at)


def _fields(resource) -> tuple[str, str | None, list[str]]:
    name = bounded("displayName", resource.display_name, 150)
    if not name or not name.strip():
        raise InvalidValueException(detail="displayName is required")
    external_id = bounded("externalId", resource.external_id, 255)
    wanted = []
    for member in resource.members or []:
        if member.type not in (None, "User"):
            raise InvalidValueException(detail="members can only be Users (no nested groups)")
        if not member.value:
            raise InvalidValueException(detail="a member needs a value (a User id)")
        wanted.append(member.value)
    return name.strip(), external_id, list(dict.fromkeys(wanted))


def create_group(resource) -> Group:
    """A new group; a displayName the IdP deleted before comes back with its applications."""
    name, external_id, wanted = _fields(resource)
    group = db.session.scalar(select(Group).where(Group.name == name))
    if group is not None and group.scim_deleted_at is None:
        raise UniquenessException(detail=f"displayName {name!r} is taken")
    if group is None:
        group = Group(name=name)
        db.session.add(group)
        db.session.flush()
        trail.record("group_created", None, comment=REASON, group=name)
    else:
        group.scim_deleted_at = None
        trail.record("group_restored", None, comment=REASON, group=name)
    group.external_id, group.modified_at = external_id, utcnow()
    _set_members(group, wanted)
    return group


def update_group(group: Group, resource) -> Group:
    """A PUT or a PATCH: a new name, externalId, and the members' joins and leaves."""
    name, external_id, wanted = _fields(resource)
    if name != group.name:
        if db.session.scalar(select(Group.id).where(Group.name == name)):
            raise UniquenessException(detail=f"displayName {name!r} is taken")
        trail.record("group_renamed", None, comment=REASON, group=name, before=group.name)
        group.name = name
    group.external_id, group.modified_at = external_id, utcnow()
    _set_members(group, wanted)
    return group


def delete_group(group: Group) -> None:
    """A DELETE: every member leaves (what the group granted ends); the row stays, hidden."""
    _set_members(group, [])
    group.scim_deleted_at = group.modified_at = utcnow()
    trail.record("group_deleted", None, comment=REASON, group=group.name)


def _set_members(group: Group, wanted: list[str]) -> None:
    people = {
        user.id: user
        for user in db.session.scalars(
            select(User).where(User.id.in_(wanted), User.scim_deleted_at.is_(None))
        )
    }
    unknown = [uid for uid in wanted if uid not in people]
    if unknown:
        raise InvalidValueException(detail=f"members: no User {unknown[0]!r}")
    current = set(access.member_ids(group))
    joined = [people[uid] for uid in wanted if uid not in current]
    left = [uid for uid in current if uid not in people]
    inactive = [user.username for user in joined if not user.active]
    if inactive:
        raise InvalidValueException(detail=f"members: {inactive[0]} is deactivated")
    if len(joined) + len(left) > ONE_BY_ONE:
        access.set_members(None, group, [people[uid].username for uid in wanted], REASON)
        return
    for user in joined:
        access.add_member(None, group.name, user.username, REASON)
    for user_id in left:
        gone = db.session.get(User, user_id)
        if gone is not None:
            access.remove_member(None, group.name, gone.username, REASON)
