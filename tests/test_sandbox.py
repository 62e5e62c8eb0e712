"""The sandbox from the engine's side: every SpiffWorkflow evaluation door leads to accessflow's
evaluator, the deploy check is an allow-list over the whole file, and a run's work is bounded."""

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import TaskDataEnvironment
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import AdHocSubprocessSpec
from SpiffWorkflow.bpmn.specs.event_definitions.message import (
    CorrelationProperty,
    MessageEventDefinition,
)
from SpiffWorkflow.util.task import TaskState

from engine.db import db
from engine.errors import Invalid, WorkflowFault
from engine.models import Application, Incident, ProvisioningJob
from engine.workflow import runtime
from engine.workflow.bpmn import deploy, parse_bpmn
from tests import sandbox_bpmn as bpmn
from tests.flow import decide, submit

REFUSALS = ("not allowed", "disabled in accessflow", "accessflow never", "provisioning jobs")


@pytest.fixture
def marker(tmp_path):
    return tmp_path / "ran"


def _payloads(marker):
    return [
        f"open({str(marker)!r}, 'w')",
        f"__import__('os').system('touch {marker}')",
        f"().__class__.__base__.__subclasses__() or open({str(marker)!r}, 'w')",
        f"exec(\"open({str(marker)!r}, 'w')\")",
    ]


def _ready_task():
    _key, spec, subprocesses = parse_bpmn(bpmn.process())
    workflow = BpmnWorkflow(spec, subprocesses, script_engine=runtime.SCRIPT_ENGINE)
    return workflow, workflow.get_tasks(state=TaskState.READY)[0]


def test_every_spiff_evaluation_door_refuses_python(marker):
    workflow, task = _ready_task()
    engine = runtime.SCRIPT_ENGINE
    stock = BpmnWorkflow(workflow.spec, {})  # built without our engine: Spiff's default one
    doors = {
        "script engine evaluate": lambda p: engine.evaluate(task, p),
        "environment evaluate": lambda p: engine.environment.evaluate(p, {}),
        "script engine execute": lambda p: engine.execute(task, p),
        "environment execute": lambda p: engine.environment.execute(p, {}),
        "service call": lambda p: engine.call_service(task, operation=p),
        "ad-hoc condition": lambda p: AdHocSubprocessSpec(name="a").check_condition(p, workflow),
        "message correlation": lambda p: MessageEventDefinition("m").calculate_correlations(
            engine, [CorrelationProperty("c", p, ["k"])], {}
        ),
        "stock engine evaluate": lambda p: PythonScriptEngine().evaluate(task, p),
        "stock environment evaluate": lambda p: TaskDataEnvironment().evaluate(p, {}),
        "stock environment execute": lambda p: TaskDataEnvironment().execute(p, {}),
        "default workflow engine": lambda p: stock.script_engine.evaluate(task, p),
    }
    for door, call in doors.items():
        for payload in _payloads(marker):
            with pytest.raises(Exception) as refused:
                call(payload)
            assert not marker.exists(), f"{door} ran {payload}"
            reason = str(refused.value)  # refused by accessflow, not failed inside Python
            assert any(word in reason for word in REFUSALS), f"{door}: {reason}"


def test_safe_expressions_still_evaluate_through_both_doors():
    _workflow, task = _ready_task()
    task.data["account_mode"] = "create"
    engine = runtime.SCRIPT_ENGINE
    assert engine.evaluate(task, "account_mode == 'create'") is True
    assert engine.environment.evaluate("len(x) + 1", {"x": [1, 2]}) == 3


@pytest.mark.parametrize(
    ("outside", "body", "named"),
    [
        ('<bpmn:message id="msg" name="m"/>', bpmn.DIRECT, "message"),
        ('<bpmn:signal id="sig" name="s"/>', bpmn.DIRECT, "signal"),
        ("", bpmn.DIRECT + '<bpmn:dataObject id="data"/>', "dataObject"),
        (
            "",
            '<bpmn:sequenceFlow id="f" sourceRef="start" targetRef="wait"/>'
            '<bpmn:intermediateCatchEvent id="wait"><bpmn:messageEventDefinition id="md"/>'
            '</bpmn:intermediateCatchEvent><bpmn:sequenceFlow id="g" sourceRef="wait" '
            'targetRef="approve"/>',
            "wait",
        ),
        (
            "",
            '<bpmn:sequenceFlow id="f" sourceRef="start" targetRef="cond"/>'
            '<bpmn:intermediateCatchEvent id="cond"><bpmn:conditionalEventDefinition id="cd">'
            "<bpmn:condition>True</bpmn:condition></bpmn:conditionalEventDefinition>"
            '</bpmn:intermediateCatchEvent><bpmn:sequenceFlow id="g" sourceRef="cond" '
            'targetRef="approve"/>',
            "cond",
        ),
        (
            "",
            '<bpmn:sequenceFlow id="f" sourceRef="start" targetRef="adhoc"/>'
            '<bpmn:adHocSubProcess id="adhoc"><bpmn:completionCondition>True'
            "</bpmn:completionCondition></bpmn:adHocSubProcess>"
            '<bpmn:sequenceFlow id="g" sourceRef="adhoc" targetRef="approve"/>',
            "adhoc",
        ),
        (
            "",
            '<bpmn:sequenceFlow id="f" sourceRef="start" targetRef="call"/>'
            '<bpmn:callActivity id="call" calledElement="other"/>'
            '<bpmn:sequenceFlow id="g" sourceRef="call" targetRef="approve"/>',
            "call",
        ),
        (
            "",
            '<bpmn:sequenceFlow id="f" sourceRef="start" targetRef="t"/>'
            '<bpmn:task id="t"><bpmn:extensionElements><spiffworkflow:preScript>x = 1'
            "</spiffworkflow:preScript></bpmn:extensionElements></bpmn:task>"
            '<bpmn:sequenceFlow id="g" sourceRef="t" targetRef="approve"/>',
            "preScript",
        ),
    ],
    ids=[
        "message",
        "signal",
        "data-object",
        "message-catch",
        "conditional",
        "ad-hoc",
        "call",
        "pre",
    ],
)
def test_deploy_refuses_what_is_not_on_the_allow_list_naming_it(app, outside, body, named):
    with pytest.raises(Invalid) as refused:
        deploy(bpmn.process(body, outside=outside))
    assert named in str(refused.value)
    assert "not supported" in str(refused.value)


@pytest.mark.parametrize(
    "content",
    [
        bpmn.gateway_condition("decision == 'x' or 10**10**10 &gt; 1"),
        bpmn.gateway_condition("len('a' * 10**9) &gt; 1"),
        bpmn.multi_instance("10**6"),
        bpmn.multi_instance("101"),
        bpmn.boundary_timer("'P999999999D'"),
        bpmn.boundary_timer("'next tuesday'"),
        bpmn.boundary_timer("'R/PT1S'", kind="timeCycle"),
        bpmn.boundary_timer("'R1000/PT1S'", kind="timeCycle"),
    ],
    ids=[
        "pow",
        "repeat",
        "cardinality-million",
        "cardinality-101",
        "timer-huge",
        "timer-text",
        "cycle-unbounded",
        "cycle-1000",
    ],  # fmt: skip
)
def test_constants_that_can_only_fail_are_refused_at_deploy(app, content):
    with pytest.raises(Invalid, match="refused"):
        deploy(content)


def test_bounded_constants_deploy(app):
    for content in (bpmn.multi_instance("3"), bpmn.boundary_timer("'PT1H'")):
        assert deploy(content).version >= 1


def test_cardinality_from_data_past_the_limit_fails_the_run_not_the_worker(app):
    version = deploy(bpmn.multi_instance("len(beneficiary) * 1000"))
    with pytest.raises(WorkflowFault, match="loop cardinality must be between 0 and 100"):
        runtime.new_workflow(version, {"beneficiary": "alice"})
    assert runtime.new_workflow(version, {"beneficiary": ""}) is not None


def test_endless_loop_stops_at_the_step_budget(app):
    version = deploy(bpmn.endless_loop())
    with pytest.raises(WorkflowFault, match="budget"):
        runtime.new_workflow(version, {})


@pytest.mark.parametrize("value", ["nope", "P999999999D", "P99999Y"])
def test_timer_value_from_data_that_is_not_a_bounded_duration_is_a_fault(app, value):
    version = deploy(bpmn.boundary_timer("approval_timeout"))
    with pytest.raises(WorkflowFault, match="approval_timeout"):
        runtime.new_workflow(version, {"approval_timeout": value})


def test_item_whose_first_step_is_provisioning_can_be_submitted(people):
    deploy(bpmn.provision_first())
    db.session.scalar(db.select(Application).filter_by(key="wiki")).workflow_key = "grant_now"
    db.session.commit()
    item = submit(people["alice"], ("wiki", "bob")).items[0]
    assert item.status == "provisioning"
    job = db.session.scalar(db.select(ProvisioningJob).filter_by(item_id=item.id))
    assert job.params == {"mode": "create"}


def _point_wiki_at(key: str) -> None:
    db.session.scalar(db.select(Application).filter_by(key="wiki")).workflow_key = key
    db.session.commit()


def _incident(item):
    return db.session.scalar(db.select(Incident).filter_by(item_id=item.id))


def test_service_parameter_failing_at_run_time_fails_the_item_into_an_incident(people):
    deploy(bpmn.provision_first(parameter="no_such_name"))
    _point_wiki_at("grant_now")
    item = submit(people["alice"], ("wiki", "bob")).items[0]
    assert item.status == "failed"
    assert "no_such_name" in item.outcome_reason
    incident = _incident(item)
    assert (incident.kind, incident.status) == ("workflow_failed", "open")
    assert db.session.scalar(db.select(ProvisioningJob).filter_by(item_id=item.id)) is None


def test_a_submit_that_runs_past_the_budget_fails_that_item_and_keeps_the_others(people):
    deploy(bpmn.endless_loop())
    _point_wiki_at("sandboxed")
    request = submit(people["alice"], ("wiki", "bob"), ("crm", "bob"))
    looping, normal = sorted(request.items, key=lambda i: i.application.key != "wiki")
    assert looping.status == "failed" and "budget" in looping.outcome_reason
    assert _incident(looping).kind == "workflow_failed"
    assert normal.status == "pending_approval"


def test_a_decision_stands_when_the_workflow_fails_after_it(people):
    deploy(bpmn.failing_after_approval())
    _point_wiki_at("sandboxed")
    item = submit(people["alice"], ("wiki", "bob")).items[0]
    task = decide(people["mark"], item)
    assert (task.status, task.decision) == ("completed", "approve")
    assert item.status == "failed"
    assert _incident(item).kind == "workflow_failed"
