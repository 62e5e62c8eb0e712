"""Lanes are roles: the built-in ones the engine resolves itself, and any other name mapped to a
group, per application (`lanes` on the application) or product-wide (the `lanes` setting).

A version is refused at deploy, and an application at import or edit, when a lane its workflows
use cannot be resolved for it, naming both; so at run time every lane has people or falls back
as documented (engine.tasks.candidates), never silently.
"""

import re

from lxml import etree
from sqlalchemy import select

from engine import settings
from engine.access.policy import DEFAULT_WORKFLOWS
from engine.db import db
from engine.errors import Invalid
from engine.models import Application, Group, User, WorkflowVersion

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BUILT_IN = ("Manager", "SecondLevelManager", "ApproverGroup", "Fulfiller", "ApplicationOwner")
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,99}")
HUMAN_TASKS = ("userTask", "manualTask", "task")

_lanes_by_version: dict[str, frozenset[str]] = {}


def lanes_in(root) -> dict[str, str]:
    """{lane name: the id of its first human task} in a parsed BPMN document."""
    found: dict[str, str] = {}
    task_ids = [node.get("id") for tag in HUMAN_TASKS for node in root.iter(f"{{{BPMN_NS}}}{tag}")]
    for lane in root.iter(f"{{{BPMN_NS}}}lane"):
        refs = {(ref.text or "").strip() for ref in lane.iter(f"{{{BPMN_NS}}}flowNodeRef")}
        held = [task_id for task_id in task_ids if task_id in refs]
        if held and lane.get("name"):
            found.setdefault(lane.get("name").strip(), held[0])
    return found


def _lanes_of(xml: str) -> dict[str, str]:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return lanes_in(etree.fromstring(xml.encode(), parser))


def lanes_of_version(version: WorkflowVersion) -> frozenset[str]:
    if version.id not in _lanes_by_version:
        _lanes_by_version[version.id] = frozenset(_lanes_of(version.bpmn_xml))
    return _lanes_by_version[version.id]


def group_for(app: Application, lane: str) -> str | None:
    """The group name a non-built-in lane maps to for `app`: its own mapping first, then the
    product-wide one."""
    return (app.lanes or {}).get(lane) or (settings.get("lanes") or {}).get(lane)


def unresolved(app: Application, lanes) -> list[str]:
    """The lanes of `lanes` that name nobody for `app`."""
    missing = []
    for lane in sorted(lanes):
        if lane == "ApplicationOwner":
            if app.owner_user_id is None and app.owner_group_id is None:
                missing.append(lane)
        elif lane not in BUILT_IN and group_for(app, lane) is None:
            missing.append(lane)
    return missing


def workflows_of(app: Application) -> set[str]:
    """Every process key items of `app` may run."""
    return {app.workflow_key, *(app.workflows or {}).values(), *DEFAULT_WORKFLOWS.values()}


def check_application(app: Application) -> None:
    """Refuse an application whose workflows use a lane that names nobody for it."""
    from engine.workflow.bpmn import latest_version

    for key in sorted(workflows_of(app)):
        version = latest_version(key)
        missing = unresolved(app, lanes_of_version(version)) if version is not None else []
        if missing:
            raise Invalid(_refusal(missing[0], key, app), field="lanes")


def check_deploy(key: str, xml: str) -> None:
    """Refuse a new version of `key` using a lane that names nobody for an application that
    runs `key`."""
    lanes = _lanes_of(xml)
    if not set(lanes) - set(BUILT_IN) and "ApplicationOwner" not in lanes:
        return
    for app in db.session.scalars(select(Application).order_by(Application.key)):
        if key in workflows_of(app):
            missing = unresolved(app, lanes)
            if missing:
                task = lanes[missing[0]]
                raise Invalid(f"task {task!r}: {_refusal(missing[0], key, app)}", element=task)


def _refusal(lane: str, key: str, app: Application) -> str:
    if lane == "ApplicationOwner":
        how = "set the application's owner"
    else:
        how = 'map it to a group in the application\'s "lanes" or the product-wide "lanes"'
    return f"lane {lane!r} of workflow {key!r} names nobody for application {app.key!r}: {how}"


def set_owner(app: Application, name: str | None) -> None:
    """The application's owner: a person's username, else a group's name; None clears it."""
    app.owner_user_id = app.owner_group_id = None
    if not name:
        return
    user_id = db.session.scalar(select(User.id).where(User.username == name))
    group_id = None if user_id else db.session.scalar(select(Group.id).where(Group.name == name))
    if user_id is None and group_id is None:
        raise Invalid(f"owner: no person or group {name!r}", field="owner")
    app.owner_user_id, app.owner_group_id = user_id, group_id


def checked_mapping(mapping: dict | None, field: str = "lanes") -> dict | None:
    """A lane → group mapping with every lane a custom name and every group existing."""
    if not mapping:
        return None
    for lane, group in mapping.items():
        if not NAME.fullmatch(lane) or lane in BUILT_IN:
            raise Invalid(f"{field}: {lane!r} is not a lane name that can be mapped", field=field)
        if db.session.scalar(select(Group.id).where(Group.name == group)) is None:
            raise Invalid(f"{field}: lane {lane!r} names no group {group!r}", field=field)
    return dict(mapping)
