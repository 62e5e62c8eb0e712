"""Importing a directory file: users, groups and applications upserted in one transaction."""

import json
import logging

from sqlalchemy import inspect, select
from sqlalchemy.orm import aliased

from engine import encryption, settings
from engine.audit import trail
from engine.db import db
from engine.directory import file_schema
from engine.directory.connector_settings import check_connector
from engine.directory.identity_providers import put_providers
from engine.directory.lookup import find_application
from engine.directory.passwords import set_password
from engine.errors import Conflict, Invalid, NotFound
from engine.models import Application, Group, User
from engine.sync import policy as sync_policy
from engine.workflow import lanes

log = logging.getLogger(__name__)


def import_directory(source: str | dict) -> dict:
    """Upsert users, groups and applications in one transaction; a bad entry changes nothing."""
    try:
        raw = json.loads(source) if isinstance(source, str) else source
    except json.JSONDecodeError as err:
        raise Invalid(
            f"the directory file is not valid JSON: line {err.lineno}: {err.msg}"
        ) from err
    data = file_schema.load(raw)
    # Before the settings: turning local passwords off needs a provider to sign in with.
    providers = put_providers(data.get("identity_providers", []))
    product = data.get("settings", {})
    for key, value in product.items():
        if key != "lanes":  # lanes name groups: set once the file's groups exist
            settings.change(key, value)
    counts = {
        "users": _import_users(data.get("users", [])),
        "groups": _import_groups(data.get("groups", [])),
    }
    if "lanes" in product:
        settings.change("lanes", product["lanes"])
    counts |= {
        "applications": _import_applications(data.get("applications", [])),
    }
    if "sod_rules" in data:
        counts["sod_rules"] = _import_sod_rules(data["sod_rules"])
    # Through the same services as the admin pages: joiners, movers and leavers follow.
    from engine.access import groups, people

    for entry in data.get("groups", []):
        if "applications" in entry:
            group = groups.group_by_name(entry["name"])
            groups.set_applications(None, group, entry["applications"], "directory import")
    for entry in data.get("users", []):
        if entry.get("active") is False:
            people.deactivate(None, entry["username"], "directory import")
        elif entry.get("active") is True:
            people.reactivate(None, entry["username"], "directory import")
    if providers:
        counts["identity_providers"] = providers
    trail.record("directory_imported", None, **counts)
    return counts


def _import_users(entries: list[dict]) -> int:
    _refuse_manager_cycles(entries)
    by_name = {}
    for entry in entries:
        name = entry["username"]
        user = db.session.scalar(select(User).where(User.username == name)) or User(username=name)
        for field in ("email", "display_name", "first_name", "last_name", "department", "title"):
            if field in entry:
                setattr(user, field, entry[field])
        if entry.get("password"):
            set_password(user, entry["password"])
        if user.id is None:  # a new person; an existing one changes state as a leaver would
            user.active = entry.get("active", True)
        db.session.add(user)
        by_name[name] = user
    db.session.flush()
    for index, entry in enumerate(entries):
        manager = entry.get("manager")
        user = by_name[entry["username"]]
        if manager:
            boss = by_name.get(manager) or db.session.scalar(
                select(User).where(User.username == manager)
            )
            if boss is None:
                raise Invalid(f"users[{index}] ({user.username}): unknown manager {manager!r}")
        else:
            boss = None
        if user.manager_id != (boss.id if boss else None):
            _move(user, boss)
    return len(entries)


def _move(user: User, boss: User | None) -> None:
    """A new manager takes over the person's open manager approvals (a mover)."""
    from engine.access import people

    if user.manager_id is None or inspect(user).pending:
        user.manager = boss  # a new person, or one without a manager: nothing to hand over
        return
    user.manager = boss
    db.session.flush()
    people.reroute_manager_tasks(None, user)


def _refuse_manager_cycles(entries: list[dict]) -> None:
    """Refuse a file after which someone would (indirectly) manage themselves, counting the
    managers already stored for people the file does not mention."""
    boss = aliased(User)
    managers = dict(
        db.session.execute(select(User.username, boss.username).join(boss, User.manager)).all()
    )
    managers.update({entry["username"]: entry.get("manager") for entry in entries})
    acyclic: set[str] = set()
    for index, entry in enumerate(entries):
        chain = [entry["username"]]
        while (above := managers.get(chain[-1])) and above not in acyclic:
            if above in chain:
                loop = " manages ".join(reversed([*chain[chain.index(above) :], above]))
                raise Invalid(f"users[{index}] ({chain[0]}): manager cycle: {loop}")
            chain.append(above)
        acyclic.update(chain)


def _import_groups(entries: list[dict]) -> int:
    from engine.access import groups

    for index, entry in enumerate(entries):
        name = entry["name"]
        group = db.session.scalar(select(Group).where(Group.name == name))
        if group is None:
            group = Group(name=name)
            db.session.add(group)
            db.session.flush()
        try:
            groups.set_members(None, group, entry.get("members", []), "directory import")
        except Invalid as err:
            raise Invalid(f"groups[{index}] ({name}): {err.detail}") from err
    db.session.flush()
    return len(entries)


def _group(name: str | None, where: str) -> Group | None:
    if not name:
        return None
    group = db.session.scalar(select(Group).where(Group.name == name))
    if group is None:
        raise Invalid(f"{where}: unknown group {name!r}")
    return group


def _import_applications(entries: list[dict]) -> int:
    for index, entry in enumerate(entries):
        key = entry["key"]
        where = f"applications[{index}] ({key})"
        app = find_application(key) or Application(key=key)
        app.name = entry.get("name") or key
        app.description = entry.get("description")
        app.kind = entry.get("kind") or "disconnected"
        app.approver_group = _group(entry.get("approver_group"), where)
        app.fulfiller_group = _group(entry.get("fulfiller_group"), where)
        app.workflow_key = entry.get("workflow") or "access_request"
        check_connector(entry.get("connector"), f"{where}: connector")
        if not _same_settings(app, entry.get("connector")):
            app.connector_settings = entry.get("connector")
        app.notification_email = entry.get("notification_email")
        app.approval_timeout = entry.get("approval_timeout")
        app.max_duration = entry.get("max_duration")
        app.require_end_date = entry.get("require_end_date", False)
        app.reminder_before = entry.get("reminder_before")
        app.escalate_after = entry.get("escalate_after")
        group = _group(entry.get("escalation_group"), where)
        app.escalation_group_id = group.id if group is not None else None
        app.enabled = entry.get("enabled", True)
        app.group_auto_provisioning = entry.get("group_auto_provisioning", False)
        app.roles = entry.get("roles") or None
        sync_policy.apply(app, entry, replace=True)
        try:
            lanes.set_owner(app, entry.get("owner"))
            app.lanes = lanes.checked_mapping(entry.get("lanes"))
            db.session.add(app)
            lanes.check_application(app)
        except Invalid as err:
            raise Invalid(f"{where}: {err.detail}", field=err.extra.get("field")) from err
    db.session.flush()
    return len(entries)


def _import_sod_rules(entries: list[dict]) -> int:
    from engine.access import sod

    for index, entry in enumerate(entries):
        try:
            sod.add_rule(None, entry["name"], entry["applications"])
        except (Invalid, Conflict, NotFound) as err:
            raise Invalid(f"sod_rules[{index}] ({entry['name']}): {err.detail}") from err
    return len(entries)


def _same_settings(app: Application, settings: dict | None) -> bool:
    """True when the stored settings already say this: their ciphertext then stays as it is."""
    if app.connector_settings is None or settings is None:
        return app.connector_settings == settings
    try:
        return encryption.reveal(app.connector_settings, app.key) == settings
    except Invalid as err:  # stored under a key no longer configured: the file's replace them
        log.info("%s: stored connector settings unreadable (%s): replaced", app.key, err.detail)
        return False
