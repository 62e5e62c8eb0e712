"""Small BPMN documents for the sandbox tests: start → (what the test puts) → Manager task → end."""

NAMESPACES = (
    'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"'
)
DIRECT = '<bpmn:sequenceFlow id="to_approve" sourceRef="start" targetRef="approve"/>'


def process(
    body: str = DIRECT, key: str = "sandboxed", outside: str = "", lane_refs=(), after: str = ""
) -> str:
    """A process whose body leads from `start` to the user task `approve`; `after` replaces the
    flow from `approve` to `end`."""
    refs = "".join(f"<bpmn:flowNodeRef>{ref}</bpmn:flowNodeRef>" for ref in ("approve", *lane_refs))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions {NAMESPACES} id="defs" targetNamespace="http://example.com/accessflow">
  {outside}
  <bpmn:process id="{key}" isExecutable="true">
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="lane_manager" name="Manager">{refs}</bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"/>
    {body}
    <bpmn:userTask id="approve" name="Approve"/>
    <bpmn:endEvent id="end"/>
    {after or '<bpmn:sequenceFlow id="to_end" sourceRef="approve" targetRef="end"/>'}
  </bpmn:process>
</bpmn:definitions>"""


def gateway_condition(condition: str) -> str:
    """start → exclusive gateway whose first flow has `condition` → approve (else also approve)."""
    return process(
        f"""<bpmn:sequenceFlow id="to_gate" sourceRef="start" targetRef="gate"/>
    <bpmn:exclusiveGateway id="gate" default="otherwise"/>
    <bpmn:sequenceFlow id="when" sourceRef="gate" targetRef="approve">
      <bpmn:conditionExpression>{condition}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="otherwise" sourceRef="gate" targetRef="approve"/>"""
    )


def multi_instance(cardinality: str) -> str:
    """start → a Manager task run `cardinality` times → approve."""
    return process(
        f"""<bpmn:sequenceFlow id="to_each" sourceRef="start" targetRef="each"/>
    <bpmn:task id="each" name="Each">
      <bpmn:multiInstanceLoopCharacteristics>
        <bpmn:loopCardinality>{cardinality}</bpmn:loopCardinality>
      </bpmn:multiInstanceLoopCharacteristics>
    </bpmn:task>
    <bpmn:sequenceFlow id="after_each" sourceRef="each" targetRef="approve"/>""",
        lane_refs=("each",),
    )


def boundary_timer(duration: str, kind: str = "timeDuration") -> str:
    """The Manager task with an interrupting boundary timer of `duration` leading to the end."""
    return process(
        f"""{DIRECT}
    <bpmn:boundaryEvent id="too_late" attachedToRef="approve">
      <bpmn:timerEventDefinition id="too_late_timer">
        <bpmn:{kind}>{duration}</bpmn:{kind}>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="late_end" sourceRef="too_late" targetRef="end"/>"""
    )


def endless_loop() -> str:
    """start → a none event → a gateway that always goes back to it: no wait, no end."""
    return process(
        """<bpmn:sequenceFlow id="to_spin" sourceRef="start" targetRef="spin"/>
    <bpmn:intermediateThrowEvent id="spin" name="Spin"/>
    <bpmn:sequenceFlow id="to_gate" sourceRef="spin" targetRef="gate"/>
    <bpmn:exclusiveGateway id="gate" default="leave"/>
    <bpmn:sequenceFlow id="again" sourceRef="gate" targetRef="spin">
      <bpmn:conditionExpression>True</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="leave" sourceRef="gate" targetRef="approve"/>"""
    )


def provision_first(parameter: str = "'create'") -> str:
    """start → the provisioning service task → end: no approval (a connected-app grant flow)."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions {NAMESPACES} id="defs" targetNamespace="http://example.com/accessflow">
  <bpmn:process id="grant_now" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="to_provision" sourceRef="start" targetRef="provision_account"/>
    <bpmn:serviceTask id="provision_account" name="Provision">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="provision">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="mode" type="str" value="{parameter}"/>
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:sequenceFlow id="to_end" sourceRef="provision_account" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>"""


def failing_after_approval() -> str:
    """The Manager task, then a gateway whose condition reads a name nobody sets."""
    return process(
        DIRECT,
        after="""<bpmn:sequenceFlow id="to_gate" sourceRef="approve" targetRef="gate"/>
    <bpmn:exclusiveGateway id="gate" default="otherwise"/>
    <bpmn:sequenceFlow id="when" sourceRef="gate" targetRef="end">
      <bpmn:conditionExpression>no_such_name == 1</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="otherwise" sourceRef="gate" targetRef="end"/>""",
    )
