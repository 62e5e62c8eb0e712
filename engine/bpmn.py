"""Parsing, checking and deploying BPMN files as numbered versions of a process."""

import hashlib

from lxml import etree
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import ServiceTaskParser
from SpiffWorkflow.spiff.specs.defaults import ServiceTask
from sqlalchemy import func, select, update

from engine.db import db
from engine.errors import Invalid
from engine.expressions import UnsafeExpression, check_expression
from engine.models import WorkflowVersion

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
HUMAN_LANES = ("Manager", "ApproverGroup", "Fulfiller")
SERVICE_OPERATORS = ("provision",)
# Elements that would run designer code or reach outside the engine: refused, not ignored.
REFUSED_TAGS = ("scriptTask", "businessRuleTask", "callActivity", "sendTask", "receiveTask")
REFUSED_EXTENSIONS = ("preScript", "postScript", "instructionsForEndUser")
EXPRESSION_TAGS = (
    "conditionExpression",
    "timeDuration",
    "timeDate",
    "timeCycle",
    "loopCardinality",
    "completionCondition",
)


class DeferredServiceTask(ServiceTask):
    """A service task that waits (STARTED) until a worker completes it outside the request."""

    def _execute(self, task):
        return None


class AccessflowParser(SpiffBpmnParser):
    OVERRIDE_PARSER_CLASSES = {
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        full_tag("serviceTask"): (ServiceTaskParser, DeferredServiceTask),
    }


def _element_name(node) -> str:
    label = node.get("name")
    kind = etree.QName(node).localname
    return f"{kind} '{node.get('id')}'" + (f" ({label})" if label else "")


def _flow_node(node):
    """The BPMN element an expression belongs to (its sequence flow, task or event)."""
    while node is not None and node.get("id") is None:
        node = node.getparent()
    return node


def _check_document(root) -> str:
    """Refuse what the engine cannot run safely; return the executable process id."""
    processes = [p for p in root.iter(f"{{{BPMN_NS}}}process") if p.get("isExecutable") != "false"]
    if not processes:
        raise Invalid("the file defines no executable bpmn:process")
    if len(processes) > 1:
        raise Invalid("the file defines more than one executable process; deploy one at a time")
    process = processes[0]
    for tag in REFUSED_TAGS:
        for node in process.iter(f"{{{BPMN_NS}}}{tag}"):
            raise Invalid(f"{_element_name(node)}: {tag} is not allowed", element=node.get("id"))
    for tag in REFUSED_EXTENSIONS:
        for node in process.iter(f"{{{SPIFF_NS}}}{tag}"):
            owner = _flow_node(node)
            raise Invalid(
                f"{_element_name(owner)}: {tag} scripts are not allowed", element=owner.get("id")
            )
    lanes = {}
    for lane in process.iter(f"{{{BPMN_NS}}}lane"):
        for ref in lane.iter(f"{{{BPMN_NS}}}flowNodeRef"):
            lanes[(ref.text or "").strip()] = lane.get("name")
    for tag in ("userTask", "manualTask"):
        for node in process.iter(f"{{{BPMN_NS}}}{tag}"):
            lane = lanes.get(node.get("id"))
            if lane not in HUMAN_LANES:
                raise Invalid(
                    f"{_element_name(node)}: lane {lane!r} cannot be resolved to people; "
                    f"use one of {', '.join(HUMAN_LANES)}",
                    element=node.get("id"),
                )
    for node in process.iter(f"{{{SPIFF_NS}}}serviceTaskOperator"):
        owner = _flow_node(node.getparent())
        if node.get("id") not in SERVICE_OPERATORS:
            raise Invalid(
                f"{_element_name(owner)}: unknown service operator {node.get('id')!r}",
                element=owner.get("id"),
            )
    for node in process.iter(f"{{{BPMN_NS}}}serviceTask"):
        if node.find(f".//{{{SPIFF_NS}}}serviceTaskOperator") is None:
            raise Invalid(
                f"{_element_name(node)}: a service task needs an operator", element=node.get("id")
            )
    expressions = [
        (n, n.text or "") for t in EXPRESSION_TAGS for n in process.iter(f"{{{BPMN_NS}}}{t}")
    ]
    expressions += [(n, n.get("value", "")) for n in process.iter(f"{{{SPIFF_NS}}}parameter")]
    for node, source in expressions:
        owner = _flow_node(node.getparent())
        try:
            check_expression(source.strip())
        except UnsafeExpression as err:
            raise Invalid(
                f"{_element_name(owner)}: expression {source.strip()!r} refused: {err}",
                element=owner.get("id"),
            ) from err
    return process.get("id")


def parse_bpmn(content: str | bytes) -> tuple[str, object, dict]:
    """Check a BPMN document; return (process key, spec, subprocess specs) or raise Invalid."""
    data = content.encode() if isinstance(content, str) else content
    try:
        root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as err:
        raise Invalid(f"not well-formed XML: {err}") from err
    key = _check_document(root)
    parser = AccessflowParser()
    try:
        parser.add_bpmn_xml(etree.ElementTree(root), filename=f"{key}.bpmn")
        spec = parser.get_spec(key)
        subprocesses = parser.get_subprocess_specs(key)
    except ValidationException as err:
        element = err.id or err.tag
        raise Invalid(f"element {element!r}: {err}", element=err.id) from err
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
