"""What a deployable BPMN file may contain: one allow-list, checked over the whole document.

Deny by default: an element is refused unless it is listed here, wherever it stands in the file
(inside or outside the process), and every expression an accepted element carries is checked by
the allow-listed evaluator. Constant parts of expressions are computed at deploy, so one that
can only fail (an exponent over the limit, a timer that is not a duration) is refused before any
item runs into it. Elements accessflow does not run (messages, signals, conditional events,
scripts, data objects, call activities, ad-hoc sub-processes...) are refused, not ignored.
"""

import re

from lxml import etree

from engine.errors import Invalid
from engine.workflow.expressions import ExpressionError, check_expression, constant_value
from engine.workflow.sandbox import MAX_INSTANCES, check_instance_count, check_timer_value

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
# Diagram layout only: SpiffWorkflow never reads these namespaces.
LAYOUT_NAMESPACES = (
    "http://www.omg.org/spec/BPMN/20100524/DI",
    "http://www.omg.org/spec/DD/20100524/DC",
    "http://www.omg.org/spec/DD/20100524/DI",
)
# Lanes are roles (engine/workflow/lanes.py): these built-in ones, or a name mapped to a group.
HUMAN_LANES = ("Manager", "SecondLevelManager", "ApproverGroup", "Fulfiller", "ApplicationOwner")
LANE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,99}")
SERVICE_OPERATORS = ("provision",)
MAX_ELEMENTS = 5_000

ALLOWED_BPMN = frozenset(
    {
        # structure and annotations
        "definitions", "process", "collaboration", "participant", "laneSet", "lane",
        "childLaneSet", "flowNodeRef", "documentation", "extensionElements", "textAnnotation",
        "text", "association", "group", "category", "categoryValue",
        # flow
        "sequenceFlow", "conditionExpression", "incoming", "outgoing",
        "exclusiveGateway", "parallelGateway", "inclusiveGateway",
        # activities
        "task", "userTask", "manualTask", "serviceTask", "subProcess",
        "multiInstanceLoopCharacteristics", "loopCardinality", "completionCondition",
        "standardLoopCharacteristics", "loopCondition",
        # events: plain, timers and terminate only
        "startEvent", "endEvent", "intermediateThrowEvent", "intermediateCatchEvent",
        "boundaryEvent", "timerEventDefinition", "timeDuration", "timeDate", "timeCycle",
        "terminateEventDefinition",
    }
)  # fmt: skip
ALLOWED_SPIFF = frozenset({"serviceTaskOperator", "parameters", "parameter"})
# Where each expression place lives, and what its constant value must be.
EXPRESSION_TAGS = (
    "conditionExpression",
    "completionCondition",
    "loopCondition",
    "loopCardinality",
    "timeDuration",
    "timeDate",
    "timeCycle",
)
_TIMER_KINDS = {"timeDuration": "duration", "timeDate": "date", "timeCycle": "cycle"}


def element_name(node) -> str:
    label = node.get("name")
    kind = etree.QName(node).localname
    return f"{kind} '{node.get('id')}'" + (f" ({label})" if label else "")


_CONTAINERS = ("definitions", "process", "subProcess", "collaboration", "laneSet")


def _owner(node):
    """The diagram element something belongs to: its flow, task, event or top-level element."""
    while node is not None:
        parent = node.getparent()
        if parent is None or etree.QName(parent).localname in _CONTAINERS:
            return node if node.get("id") is not None else None
        node = parent
    return None


def _refuse(node, reason: str):
    owner = _owner(node)
    where = element_name(owner) if owner is not None else etree.QName(node).localname
    raise Invalid(f"{where}: {reason}", element=owner.get("id") if owner is not None else None)


def check_document(root) -> str:
    """Refuse what the engine cannot run safely; return the executable process id."""
    if not isinstance(root.tag, str) or etree.QName(root).namespace != BPMN_NS:
        raise Invalid("the file is not a BPMN 2.0 document (bpmn:definitions expected)")
    count = 0
    for node in root.iter():
        count += 1
        if count > MAX_ELEMENTS:
            raise Invalid(f"the file has more than {MAX_ELEMENTS} elements")
        _check_element(node)
    process = _executable_process(root)
    _check_lanes(process)
    _check_service_tasks(process)
    for node in root.iter(*(f"{{{BPMN_NS}}}{tag}" for tag in EXPRESSION_TAGS)):
        _check_expression_place(node, node.text or "")
    for node in root.iter(f"{{{SPIFF_NS}}}parameter"):
        _check_expression_place(node, node.get("value", ""))
    for node in root.iter(f"{{{BPMN_NS}}}standardLoopCharacteristics"):
        _check_loop_maximum(node)
    return process.get("id")


def _check_element(node) -> None:
    if not isinstance(node.tag, str):
        return  # comments and processing instructions carry nothing Spiff reads
    name = etree.QName(node)
    if name.namespace in LAYOUT_NAMESPACES:
        return
    allowed = {BPMN_NS: ALLOWED_BPMN, SPIFF_NS: ALLOWED_SPIFF}.get(name.namespace, frozenset())
    if name.localname not in allowed:
        prefix = "spiffworkflow:" if name.namespace == SPIFF_NS else ""
        _refuse(node, f"{prefix}{name.localname} is not supported by accessflow")
    if name.localname == "subProcess" and node.get("triggeredByEvent") == "true":
        _refuse(node, "event sub-processes are not supported by accessflow")
    if name.localname == "startEvent" and len(node.findall(f"{{{BPMN_NS}}}*")) > len(
        node.findall(f"{{{BPMN_NS}}}outgoing")
    ):
        _refuse(node, "a start event cannot wait for an event here")


def _executable_process(root):
    processes = [p for p in root.iter(f"{{{BPMN_NS}}}process") if p.get("isExecutable") != "false"]
    if not processes:
        raise Invalid("the file defines no executable bpmn:process")
    if len(processes) > 1:
        raise Invalid("the file defines more than one executable process; deploy one at a time")
    return processes[0]


def _check_lanes(process) -> None:
    lanes = {}
    for lane in process.iter(f"{{{BPMN_NS}}}lane"):
        for ref in lane.iter(f"{{{BPMN_NS}}}flowNodeRef"):
            lanes[(ref.text or "").strip()] = lane.get("name")
    # A plain bpmn:task waits for a person in SpiffWorkflow, so it needs a lane too.
    for node in process.iter(
        *(f"{{{BPMN_NS}}}{tag}" for tag in ("userTask", "manualTask", "task"))
    ):
        lane = lanes.get(node.get("id"))
        if lane is None or not LANE_NAME.fullmatch(lane.strip()):
            _refuse(
                node,
                f"lane {lane!r} cannot be resolved to people: a human task needs a lane named "
                f"{', '.join(HUMAN_LANES)}, or a name (letters, digits, _) mapped to a group",
            )


def _check_service_tasks(process) -> None:
    for node in process.iter(f"{{{BPMN_NS}}}serviceTask"):
        operators = node.findall(f".//{{{SPIFF_NS}}}serviceTaskOperator")
        if len(operators) != 1:
            _refuse(node, "a service task needs exactly one operator")
        if operators[0].get("id") not in SERVICE_OPERATORS:
            _refuse(node, f"unknown service operator {operators[0].get('id')!r}")


def _check_expression_place(node, source: str) -> None:
    source = source.strip()
    tag = etree.QName(node).localname
    try:
        check_expression(source)
        constant, value = constant_value(source)
        if constant and tag == "loopCardinality":
            check_instance_count(value, "loop cardinality")
        elif constant and tag in _TIMER_KINDS:
            check_timer_value(_TIMER_KINDS[tag], value)
    except ExpressionError as err:
        _refuse(node, f"expression {source!r} refused: {err}")


def _check_loop_maximum(node) -> None:
    maximum = node.get("loopMaximum")
    if maximum is None:
        _refuse(node, f"a loop needs a loopMaximum of at most {MAX_INSTANCES}")
    if not maximum.strip().isdigit() or not 1 <= int(maximum) <= MAX_INSTANCES:
        _refuse(node, f"loopMaximum must be a whole number from 1 to {MAX_INSTANCES}")
