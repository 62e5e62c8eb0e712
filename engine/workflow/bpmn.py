"""Parsing, checking and deploying BPMN files as numbered versions of a process."""

import hashlib
import logging

from lxml import etree
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import ServiceTaskParser
from SpiffWorkflow.spiff.specs.defaults import ServiceTask
from sqlalchemy import func, select, update

from engine.db import db
from engine.errors import Invalid
from engine.models import WorkflowVersion
from engine.workflow import lanes
from engine.workflow.policy import check_document

log = logging.getLogger(__name__)


class DeferredServiceTask(ServiceTask):
    """A service task that waits (STARTED) until a worker completes it outside the request."""

    def _execute(self, task):
        return None


class AccessflowParser(SpiffBpmnParser):
    OVERRIDE_PARSER_CLASSES = {
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        full_tag("serviceTask"): (ServiceTaskParser, DeferredServiceTask),
    }


def parse_bpmn(content: str | bytes) -> tuple[str, object, dict]:
    """Check a BPMN document; return (process key, spec, subprocess specs) or raise Invalid."""
    data = content.encode() if isinstance(content, str) else content
    try:
        root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as err:
        raise Invalid(f"not well-formed XML: {err}") from err
    key = check_document(root)
    parser = AccessflowParser()
    try:
        parser.add_bpmn_xml(etree.ElementTree(root), filename=f"{key}.bpmn")
        spec = parser.get_spec(key)
        subprocesses = parser.get_subprocess_specs(key)
    except ValidationException as err:
        element = err.id or err.tag
        raise Invalid(f"element {element!r}: {err}", element=err.id) from err
    except Exception as err:  # the parser's own failures on odd input: a refusal, never a 500
        log.warning("BPMN %s refused by the parser: %r", key, err)
        raise Invalid(f"the BPMN file cannot be parsed: {type(err).__name__}: {err}") from err
    return key, spec, subprocesses


_specs: dict[str, tuple[object, dict]] = {}


def spec_for_instance(instance) -> tuple[object, dict]:
    """The parsed spec an instance runs on; its version row is read only when not yet parsed."""
    cached = _specs.get(instance.workflow_version_id)
    return cached if cached is not None else spec_for(instance.workflow_version)


def spec_for(version: WorkflowVersion) -> tuple[object, dict]:
    """The parsed spec of a deployed version, parsed once per process and then cached."""
    if version.id not in _specs:
        _, spec, subprocesses = parse_bpmn(version.bpmn_xml)
        _specs[version.id] = (spec, subprocesses)
    return _specs[version.id]


def deploy(
    content: str | bytes, deployed_by_id: str | None = None, *, draft: bool = False
) -> WorkflowVersion:
    """Store the file as the next version of its process; the same content twice is one version.

    An operator's deploy (`draft=False`) is active at once; a draft waits for a second person.
    Either way a new version supersedes the drafts still pending for that process, so a draft
    is always the newest version and its review compares it with what runs now.
    """
    text = content.decode() if isinstance(content, bytes) else content
    key, spec, subprocesses = parse_bpmn(text)
    lanes.check_deploy(key, text)
    digest = hashlib.sha256(text.encode()).hexdigest()
    active = latest_version(key)
    if active is not None and active.content_hash == digest:
        return active
    pending = db.session.scalar(
        select(WorkflowVersion).where(WorkflowVersion.key == key, WorkflowVersion.status == "draft")
    )
    if draft and pending is not None and pending.content_hash == digest:
        return pending
    newest = db.session.scalar(
        select(func.max(WorkflowVersion.version)).where(WorkflowVersion.key == key)
    )
    db.session.execute(
        update(WorkflowVersion)
        .where(WorkflowVersion.key == key, WorkflowVersion.status == "draft")
        .values(status="superseded")
        .execution_options(synchronize_session="fetch")
    )
    version = WorkflowVersion(
        key=key,
        version=(newest or 0) + 1,
        content_hash=digest,
        bpmn_xml=text,
        deployed_by_id=deployed_by_id,
        status="draft" if draft else "active",
    )
    db.session.add(version)
    db.session.flush()
    _specs[version.id] = (spec, subprocesses)
    return version


def latest_version(key: str) -> WorkflowVersion | None:
    """The version new items of `key` start on: the newest active one, never a draft."""
    return db.session.scalar(
        select(WorkflowVersion)
        .where(WorkflowVersion.key == key, WorkflowVersion.status == "active")
        .order_by(WorkflowVersion.version.desc())
        .limit(1)
    )
