"""People an identity provider pushes: SCIM User resources to and from accessflow's users.

Every change goes through the lifecycle services (engine.access.people): `active: false` or a
DELETE is a leaver, a new manager a mover. The SCIM attributes without a column are kept as
they came (never a password) and returned as they were."""

from typing import Any

from scim2_models import InvalidValueException, NotFoundException, UniquenessException
from sqlalchemy import or_, select

from engine.access import people as lifecycle
from engine.audit import trail
from engine.db import db, utcnow
from engine.models import Group, User, group_members
from engine.scim.protocol import ENTERPRISE
from engine.scim.resources import bounded, set_or_drop, with_meta

REASON = "scim"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
NOT_KEPT = ("id", "meta", "schemas", "groups", "password")
COLUMNS = (  # column, SCIM attribute, length
    ("external_id", "externalId", 255),
    ("display_name", "displayName", 200),
    ("title", "title", 200),
    ("email", "emails", 320),
    ("first_name", "name.givenName", 100),
    ("last_name", "name.familyName", 100),
    ("department", "department", 200),
)


def visible():
    """People the SCIM server shows: everyone an identity provider has not deleted."""
    return select(User).where(User.scim_deleted_at.is_(None))


def find_person(user_id: str, *, lock: bool = False) -> User:
    query = visible().where(User.id == user_id)
    if lock and db.engine.dialect.name == "postgresql":
        query = query.with_for_update(of=User)
    user = db.session.scalar(query)
    if user is None:
        raise NotFoundException(detail=f"no User {user_id!r}")
    return user


def groups_of(user_ids: list[str]) -> dict[str, list[tuple[str, str]]]:
    """{user id: [(group id, group name)]} for a page of people, in one query."""
    found: dict[str, list[tuple[str, str]]] = {uid: [] for uid in user_ids}
    rows = db.session.execute(
        select(group_members.c.user_id, Group.id, Group.name)
        .join(Group, Group.id == group_members.c.group_id)
        .where(group_members.c.user_id.in_(user_ids), Group.scim_deleted_at.is_(None))
        .order_by(Group.name)
    )
    for user_id, group_id, name in rows:
        found[user_id].append((group_id, name))
    return found


def person_resource(user: User, groups: list[tuple[str, str]]) -> dict:
    """The SCIM User of a person: what SCIM stored, overlaid with the columns as they are now."""
    data: dict[str, Any] = dict(user.scim_attributes or {})
    data["schemas"] = [CORE_USER, ENTERPRISE]
    data.update(id=user.id, userName=user.username)
    # Shown unless the IdP left it out of what it pushed (or removed it): the person stays as
    # they were, active or a leaver, until it says otherwise.
    set_or_drop(data, "active", None if _active_unsaid(user) else bool(user.active))
    for key, value in (
        ("externalId", user.external_id),
        ("displayName", user.display_name),
        ("title", user.title),
    ):
        set_or_drop(data, key, value)
    name = dict(data.get("name") or {})
    set_or_drop(name, "givenName", user.first_name)
    set_or_drop(name, "familyName", user.last_name)
    set_or_drop(data, "name", name)
    set_or_drop(data, "emails", _emails(data.get("emails"), user.email))
    enterprise = {k: v for k, v in (data.get(ENTERPRISE) or {}).items() if k != "schemas"}
    set_or_drop(enterprise, "department", user.department)
    boss, manager = user.manager, enterprise.get("manager")
    if boss is None:
        manager = None
    elif not isinstance(manager, dict) or manager.get("value") != boss.id:
        ref, shown = f"Users/{boss.id}", boss.display_name or boss.username
        manager = {"value": boss.id, "$ref": ref, "displayName": shown}
    set_or_drop(enterprise, "manager", manager)
    set_or_drop(data, ENTERPRISE, enterprise)
    if ENTERPRISE not in data:
        data["schemas"] = [CORE_USER]
    set_or_drop(data, "groups", [{"value": gid, "display": name} for gid, name in groups])
    return with_meta(data, "User", user.created_at, user.modified_at)


def _active_unsaid(user: User) -> bool:
    stored = user.scim_attributes
    return stored is not None and "active" not in stored


def _emails(stored: list | None, email: str | None) -> list:
    """The stored emails, with the primary one (or the first) being the email column."""
    emails = [dict(e) for e in stored or [] if isinstance(e, dict)]
    if email is None:
        return [e for e in emails if not e.get("primary")] if emails else []
    if any(e.get("value") == email for e in emails):
        return emails
    main = next((e for e in emails if e.get("primary")), emails[0] if emails else None)
    if main is None:
        return [{"value": email, "type": "work", "primary": True}]
    main["value"] = email
    return emails


def _fields(resource) -> dict:
    """The columns a User resource sets, checked, and the attributes kept as they came."""
    data = resource.model_dump(exclude_none=True)
    kept = {k: v for k, v in data.items() if k not in NOT_KEPT}
    emails = data.get("emails") or []
    main = next((e for e in emails if e.get("primary")), emails[0] if emails else {})
    enterprise = data.get(ENTERPRISE) or {}
    raw = {
        "external_id": data.get("externalId"),
        "display_name": data.get("displayName"),
        "title": data.get("title"),
        "email": main.get("value"),
        "first_name": (data.get("name") or {}).get("givenName"),
        "last_name": (data.get("name") or {}).get("familyName"),
        "department": enterprise.get("department"),
    }
    fields: dict[str, Any] = {c: bounded(attr, raw[c], n) for c, attr, n in COLUMNS}
    fields["username"] = bounded("userName", data.get("userName"), 150)
    if not fields["username"]:
        raise InvalidValueException(detail="userName is required")
    fields["manager"] = (enterprise.get("manager") or {}).get("value")
    fields["active"] = data.get("active")
    fields["kept"] = kept
    return fields


def _manager_username(value: str | None) -> str | None:
    """The manager an IdP names by our id or by its externalId."""
    if not value:
        return None
    boss = db.session.scalar(
        visible().where(or_(User.id == value, User.external_id == value)).limit(1)
    )
    if boss is None:
        raise InvalidValueException(detail=f"manager {value!r} is no known User id or externalId")
    return boss.username


def create_person(resource) -> User:
    """A joiner pushed by the IdP; a userName it deleted before comes back (a rehire)."""
    fields = _fields(resource)
    user = db.session.scalar(select(User).where(User.username == fields["username"]))
    if user is not None and user.scim_deleted_at is None:
        raise UniquenessException(detail=f"userName {fields['username']!r} is taken")
    if user is not None:
        user.scim_deleted_at = None
        trail.record("user_restored", None, comment=REASON, user=user.username)
        update_person(user, resource)
        if fields["active"] is None and not user.active:  # created again: active by default
            lifecycle.reactivate(None, user.username, REASON)
        return user
    user = User(username=fields["username"], active=True, modified_at=utcnow())
    for column, _, _ in COLUMNS:
        setattr(user, column, fields[column])
    user.scim_attributes = fields["kept"]
    db.session.add(user)
    db.session.flush()
    trail.record("user_created", None, comment=REASON, user=user.username)
    manager = _manager_username(fields["manager"])
    if manager:
        lifecycle.set_manager(None, user.username, manager)
    if fields["active"] is False:
        lifecycle.deactivate(None, user.username, REASON)
    return user


def update_person(user: User, resource) -> User:
    """A PUT or a PATCH: changed columns recorded, a manager change is a mover, `active` a
    leaver or a return."""
    fields = _fields(resource)
    if fields["username"] != user.username:
        if db.session.scalar(select(User.id).where(User.username == fields["username"])):
            raise UniquenessException(detail=f"userName {fields['username']!r} is taken")
        trail.record(
            "user_renamed", None, comment=REASON, user=fields["username"], before=user.username
        )
        user.username = fields["username"]
    changed = sorted(c for c, _, _ in COLUMNS if getattr(user, c) != fields[c])
    for column in changed:
        setattr(user, column, fields[column])
    if changed:
        trail.record("user_updated", None, comment=REASON, user=user.username, fields=changed)
    user.scim_attributes, user.modified_at = fields["kept"], utcnow()
    db.session.flush()
    manager = _manager_username(fields["manager"])
    if manager != (user.manager.username if user.manager else None):
        lifecycle.set_manager(None, user.username, manager)
    if fields["active"] is False and user.active:
        lifecycle.deactivate(None, user.username, REASON)
    elif fields["active"] is True and not user.active:
        lifecycle.reactivate(None, user.username, REASON)
    return user


def delete_person(user: User) -> None:
    """A DELETE: a leaver, hidden from SCIM from now on; the row stays for the history."""
    lifecycle.deactivate(None, user.username, REASON)
    user.scim_deleted_at = user.modified_at = utcnow()
    trail.record("user_deleted", None, comment=REASON, user=user.username)
