"""The directory: looking people and applications up, and importing a directory file."""

import json

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from sqlalchemy import select

from engine import audit
from engine.db import db
from engine.errors import Invalid
from engine.models import Application, Group, User

_hasher = PasswordHasher()
APP_KINDS = ("connected", "disconnected")


def user_by_username(username: str, field: str = "username") -> User:
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        raise Invalid(f"unknown user {username!r}", field=field)
    return user


def application_by_key(key: str) -> Application:
    app = db.session.scalar(select(Application).where(Application.key == key))
    if app is None:
        raise Invalid(f"unknown application {key!r}", field="application")
    return app


def list_applications() -> list[Application]:
    return db.session.scalars(select(Application).order_by(Application.name)).all()


def check_password(user: User | None, password: str) -> bool:
    if user is None or not user.password_hash:
        _hasher.hash("timing-equaliser")  # same cost whether or not the user exists
        return False
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def set_password(user: User, password: str) -> None:
    """A new password also ends the user's open browser sessions; the same one changes nothing."""
    if user.password_hash and check_password(user, password):
        return
    if user.password_hash:
        user.session_version = (user.session_version or 1) + 1
    user.password_hash = _hasher.hash(password)


def import_directory(source: str | dict) -> dict:
    """Upsert users, groups and applications in one transaction; a bad entry changes nothing."""
    try:
        data = json.loads(source) if isinstance(source, str) else source
    except json.JSONDecodeError as err:
        raise Invalid(
            f"the directory file is not valid JSON: line {err.lineno}: {err.msg}"
        ) from err
    if not isinstance(data, dict):
        raise Invalid("the directory file must be a JSON object with users, groups, applications")
    try:
        counts = {
            "users": _import_users(_entries(data, "users")),
            "groups": _import_groups(_entries(data, "groups")),
            "applications": _import_applications(_entries(data, "applications")),
        }
        audit.record("directory_imported", None, **counts)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return counts


def _entries(data: dict, section: str) -> list[dict]:
    entries = data.get(section, [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise Invalid(f"{section}: must be a list of objects")
    return entries


def _required(entry: dict, field: str, where: str) -> str:
    value = entry.get(field)
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"{where}: {field!r} is required and must be a non-empty string")
    return value.strip()


def _import_users(entries: list[dict]) -> int:
    by_name = {}
    for index, entry in enumerate(entries):
        name = _required(entry, "username", f"users[{index}]")
        user = db.session.scalar(select(User).where(User.username == name)) or User(username=name)
        for field in ("email", "display_name", "first_name", "last_name"):
            if field in entry:
                setattr(user, field, entry[field])
        if entry.get("password"):
            set_password(user, str(entry["password"]))
        user.active = bool(entry.get("active", True))
        db.session.add(user)
        by_name[name] = user
    db.session.flush()
    for index, entry in enumerate(entries):
        manager = entry.get("manager")
        user = by_name[entry["username"].strip()]
        if manager:
            boss = by_name.get(manager) or db.session.scalar(
                select(User).where(User.username == manager)
            )
            if boss is None:
                raise Invalid(f"users[{index}] ({user.username}): unknown manager {manager!r}")
            if boss is user:
                raise Invalid(f"users[{index}] ({user.username}): a user cannot manage themselves")
            user.manager = boss
        else:
            user.manager = None
    return len(entries)


def _import_groups(entries: list[dict]) -> int:
    for index, entry in enumerate(entries):
        name = _required(entry, "name", f"groups[{index}]")
        group = db.session.scalar(select(Group).where(Group.name == name)) or Group(name=name)
        members = []
        for username in entry.get("members", []):
            member = db.session.scalar(select(User).where(User.username == username))
            if member is None:
                raise Invalid(f"groups[{index}] ({name}): unknown member {username!r}")
            members.append(member)
        group.members = members
        db.session.add(group)
    db.session.flush()
    return len(entries)


def _group(name: str | None, where: str) -> Group | None:
    if not name:
        return None
    group = db.session.scalar(select(Group).where(Group.name == name))
    if group is None:
        raise Invalid(f"{where}: unknown group {name!r}")
    return group


def _duration(value, where: str) -> str | None:
    """An ISO-8601 duration such as "P14D" or "PT12H", checked now rather than when it fires."""
    if value is None:
        return None
    try:
        TimerEventDefinition.parse_iso_duration(str(value))
    except Exception as err:  # the parser raises bare exceptions of several kinds
        raise Invalid(f"{where}: approval_timeout {value!r} is not an ISO-8601 duration") from err
    return str(value)


def _import_applications(entries: list[dict]) -> int:
    for index, entry in enumerate(entries):
        key = _required(entry, "key", f"applications[{index}]")
        where = f"applications[{index}] ({key})"
        kind = entry.get("kind", "disconnected")
        if kind not in APP_KINDS:
            raise Invalid(f"{where}: kind must be one of {', '.join(APP_KINDS)}")
        connector = entry.get("connector")
        if kind == "connected" and not (isinstance(connector, dict) and connector.get("type")):
            raise Invalid(f"{where}: a connected application needs connector settings with a type")
        app = db.session.scalar(select(Application).where(Application.key == key)) or Application(
            key=key
        )
        app.name = entry.get("name") or key
        app.description = entry.get("description")
        app.kind = kind
        app.approver_group = _group(entry.get("approver_group"), where)
        app.fulfiller_group = _group(entry.get("fulfiller_group"), where)
        app.workflow_key = entry.get("workflow") or "access_request"
        app.connector_settings = connector
        app.notification_email = entry.get("notification_email")
        app.approval_timeout = _duration(entry.get("approval_timeout"), where)
        db.session.add(app)
    db.session.flush()
    return len(entries)


def username_of(user_id: str | None) -> str | None:
    """The username behind an id (from the session's identity map when already loaded)."""
    if user_id is None:
        return None
    user = db.session.get(User, user_id)
    return user.username if user is not None else None
