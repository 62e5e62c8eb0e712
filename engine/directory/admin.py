"""Directory administration: people, groups and applications edited by an admin.

Lifecycle changes go through `engine.access` (deactivating is a leaver, a new manager a mover),
so the admin pages, the API and the import behave alike."""

from marshmallow import ValidationError
from sqlalchemy import select

from engine.access import people
from engine.audit import trail
from engine.db import db
from engine.directory.authentication import require_admin
from engine.directory.connector_settings import check_connector
from engine.directory.file_schema import ApplicationEntry, UserEntry
from engine.directory.lookup import application_by_key, find_application
from engine.directory.passwords import set_password
from engine.errors import Conflict, Invalid, NotFound
from engine.models import Application, Group, User
from engine.models.directory import SECRET_SETTINGS
from engine.sync import policy as sync_policy
from engine.workflow import lanes

USER_FIELDS = ("email", "display_name", "first_name", "last_name", "department", "title")
APP_FIELDS = (
    "name",
    "description",
    "notification_email",
    "approval_timeout",
    "reminder_before",
    "escalate_after",
    "max_duration",
)
APP_FLAGS = ("enabled", "group_auto_provisioning", "allow_multiple_accounts", "require_end_date")
MASK = "********"


def _checked(schema, data: dict, partial: bool) -> dict:
    try:
        return schema().load(data, partial=partial)
    except ValidationError as err:
        problems = err.normalized_messages()
        field, messages = next(iter(problems.items())) if problems else ("", ["is invalid"])
        message = messages[0] if isinstance(messages, list) else str(messages)
        raise Invalid(f"{field}: {message}", field=str(field)) from err


def create_user(admin: User, data: dict) -> User:
    require_admin(admin, "create people")
    entry = _checked(UserEntry, data, partial=False)
    if db.session.scalar(select(User.id).where(User.username == entry["username"])):
        raise Conflict(f"a user {entry['username']!r} exists already", field="username")
    user = User(username=entry["username"], active=True)
    db.session.add(user)
    for field in USER_FIELDS:
        setattr(user, field, entry.get(field))
    if entry.get("password"):
        set_password(user, entry["password"])
    db.session.flush()
    trail.record("user_created", admin.id, user=user.username)
    if entry.get("manager"):
        people.set_manager(admin, user.username, entry["manager"])
    return user


def update_user(admin: User, username: str, data: dict) -> User:
    """Change a person's attributes; `active` and `manager` run the leaver and mover rules."""
    require_admin(admin, "edit people")
    user = people.person(username)
    # `reason` is for the audit; a null manager clears it (the file schema knows neither).
    fields = {k: v for k, v in data.items() if k != "reason" and (k, v) != ("manager", None)}
    entry = _checked(UserEntry, {**fields, "username": username}, partial=True)
    changed = sorted(f for f in USER_FIELDS if f in entry and getattr(user, f) != entry[f])
    for field in changed:
        setattr(user, field, entry[field])
    if changed:
        trail.record("user_updated", admin.id, user=username, fields=changed)
    if entry.get("password"):
        set_password(user, entry["password"])
        trail.record("password_set", admin.id, user=username)
    if "manager" in data:
        people.set_manager(admin, username, data["manager"] or None)
    if data.get("active") is False:
        people.deactivate(admin, username, data.get("reason"))
    elif data.get("active") is True:
        people.reactivate(admin, username, data.get("reason"))
    return user


def create_group(admin: User, name: str, description: str | None = None) -> Group:
    require_admin(admin, "create groups")
    name = (name or "").strip()
    if not name or len(name) > 150:
        raise Invalid("a group needs a name of at most 150 characters", field="name")
    if db.session.scalar(select(Group.id).where(Group.name == name)):
        raise Conflict(f"a group {name!r} exists already", field="name")
    group = Group(name=name, description=description)
    db.session.add(group)
    db.session.flush()
    trail.record("group_created", admin.id, group=name)
    return group


def create_application(admin: User, data: dict) -> Application:
    require_admin(admin, "create applications")
    if find_application(str(data.get("key") or "")) is not None:
        raise Conflict(f"an application {data.get('key')!r} exists already", field="key")
    entry = _checked(ApplicationEntry, data, partial=False)
    app = Application(key=entry["key"], name=entry.get("name") or entry["key"])
    app.kind = entry.get("kind") or "disconnected"
    db.session.add(app)
    _apply(app, entry, data)
    db.session.flush()
    trail.record("application_created", admin.id, application=app.key)
    return app


def update_application(admin: User, key: str, data: dict) -> Application:
    """Edit an application; connector secrets are write-only (a masked or missing one is kept)."""
    require_admin(admin, "edit applications")
    app = application_by_key(key)
    entry = _checked(ApplicationEntry, {**data, "key": key}, partial=True)
    if "kind" in entry and entry["kind"] != app.kind:
        app.kind = entry["kind"]
    changed = _apply(app, entry, data)
    trail.record("application_updated", admin.id, application=key, fields=sorted(changed))
    return app


def _apply(app: Application, entry: dict, raw: dict) -> set[str]:
    changed = set()
    for field in APP_FIELDS + APP_FLAGS:
        if field in entry and getattr(app, field) != entry[field]:
            setattr(app, field, entry[field])
            changed.add(field)
    for field in ("approver_group", "fulfiller_group"):
        if field in entry:
            setattr(app, field, _group(entry[field], field))
            changed.add(field)
    if "escalation_group" in entry:
        group = _group(entry["escalation_group"], "escalation_group")
        app.escalation_group_id = group.id if group is not None else None
        changed.add("escalation_group")
    if "workflow" in entry:
        app.workflow_key = entry["workflow"] or "access_request"
        changed.add("workflow")
    if "roles" in entry:
        app.roles = [dict(r) for r in entry["roles"]] or None
        changed.add("roles")
    if "owner" in raw:
        lanes.set_owner(app, entry.get("owner"))
        changed.add("owner")
    if "lanes" in raw:
        app.lanes = lanes.checked_mapping(entry.get("lanes"))
        changed.add("lanes")
    if changed & {"owner", "lanes", "workflow"}:
        lanes.check_application(app)
    if "connector" in raw:
        app.connector_settings = _merged_connector(app, entry.get("connector"))
        changed.add("connector")
    changed |= sync_policy.apply(app, entry)
    if app.kind == "connected" and not app.connector_settings:
        raise Invalid("a connected application needs connector settings", field="connector")
    return changed


def _merged_connector(app: Application, settings: dict | None) -> dict | None:
    """The new settings, keeping each stored secret the caller left out or sent masked."""
    if settings is None:
        return None
    from engine import encryption

    stored = encryption.reveal(app.connector_settings, app.key) if app.connector_settings else {}
    merged = dict(settings)
    for key in SECRET_SETTINGS:
        if merged.get(key) in (None, "", MASK) and stored.get(key):
            merged[key] = stored[key]
    check_connector(merged)
    return merged


def _group(name: str | None, field: str) -> Group | None:
    if not name:
        return None
    group = db.session.scalar(select(Group).where(Group.name == name))
    if group is None:
        raise NotFound(f"no group {name!r}")
    return group
