"""Parsing, checking and deploying BPMN files as numbered versions of a process."""

import hashlib
import logging

from lxml import etree
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import ServiceTaskParser
from SpiffWorkflow.spiff.specs.defaults import ServiceTask
from sqlalchemy import func, select

from engine.bpmn_policy import check_document
from engine.db import db
from engine.errors import Invalid
from engine.models import WorkflowVersion

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


def deploy(content: str | bytes, deployed_by_id: str | None = None) -> WorkflowVersion:
    """Store the file as the next version of its process; the same content twice is one version."""
    text = content.decode() if isinstance(content, bytes) else content
    key, spec, subprocesses = parse_bpmn(text)
    digest = hashlib.sha256(text.encode()).hexdigest()
    latest = latest_version(key)
    if latest is not None and latest.content_hash == digest:
        return latest
    number = (latest.version if latest else 0) + 1
    version = WorkflowVersion(
        key=key, version=number, content_hash=digest, bpmn_xml=text, deployed_by_id=deployed_by_id
    )
    db.session.add(version)
    db.session.flush()
    _specs[version.id] = (spec, subprocesses)
    return version


def latest_version(key: str) -> WorkflowVersion | None:
    newest = select(func.max(WorkflowVersion.version)).where(WorkflowVersion.key == key)
    return db.session.scalar(
        select(WorkflowVersion).where(
            WorkflowVersion.key == key, WorkflowVersion.version == newest.scalar_subquery()
        )
    )
