"""The SpiffWorkflow adapter: a safe script engine, and saving/loading instances by reference."""

import json
import logging
import os
import time
from collections import OrderedDict
from datetime import UTC, datetime
from types import ModuleType
from typing import Any
from uuid import UUID

import orjson
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.helpers.encoder import create_encoder
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.serializer.task_spec import ServiceTaskConverter
from SpiffWorkflow.util.task import TaskState

from engine import unit_of_work
from engine.errors import WorkflowFault
from engine.models import ProcessInstance, WorkflowVersion
from engine.workflow.bpmn import DeferredServiceTask, spec_for, spec_for_instance
from engine.workflow.sandbox import SCRIPT_ENGINE

log = logging.getLogger(__name__)
# One run of the engine (from a decision, a timer or a job result to the next wait) may complete
# at most this many tasks, in at most this many seconds: a designer's loop cannot hold a worker.
MAX_STEPS = int(os.environ.get("ACCESSFLOW_ENGINE_MAX_STEPS", "1000"))
STEP_BUDGET_SECONDS = float(os.environ.get("ACCESSFLOW_ENGINE_BUDGET", "2"))
# SpiffWorkflow walks task trees at most 1000 deep: past that it no longer sees a waiting task
# and takes the workflow for finished. A loop that deep (over an instance's whole life) fails.
MAX_TASK_DEPTH = 900


class ByReferenceWorkflowConverter(BpmnWorkflowConverter):
    """Saves an instance without its definition and restores it onto the cached, parsed spec."""

    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct, spec=None, subprocess_specs=None):
        workflow = self.target_class(
            spec, subprocess_specs, script_engine=SCRIPT_ENGINE, deserializing=True
        )
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


_config = dict(SPIFF_CONFIG)
_config[DeferredServiceTask] = ServiceTaskConverter
_config[BpmnWorkflow] = ByReferenceWorkflowConverter
SERIALIZER = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(_config))
# Encoder mode (SpiffWorkflow's own, used by its serialize_json): to_dict converts the workflow's
# objects but leaves task data as it is, and the JSON encoder converts what it meets in the data
# (`_encode`). The same document, a quarter cheaper than walking every value twice. Only
# `dump_state` converts with this registry; restoring does not look at the flag.
SERIALIZER.registry._encoder_mode = True
_REGISTRY = SERIALIZER.registry
_FALLBACK_ENCODER = create_encoder(_REGISTRY)
# orjson writes datetimes and dataclasses itself unless told to hand them to `_encode` (as json
# does); task data holds no UUID objects (Spiff keeps task ids as text), which orjson would write
# as bare text.
_ORJSON_OPTIONS = (
    orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)
# Parsed instances kept between operations; an entry is only reused when the row's version
# still matches, so another process's write simply makes it stale.
_live: OrderedDict[str, tuple[int, BpmnWorkflow]] = OrderedDict()
LIVE_LIMIT = 2000


def create_workflow(version: WorkflowVersion, data: dict) -> BpmnWorkflow:
    """A fresh workflow of that version with `data` on its start, not yet run."""
    spec, subprocesses = spec_for(version)
    workflow = BpmnWorkflow(spec, subprocesses, script_engine=SCRIPT_ENGINE)
    for task in workflow.get_tasks(state=TaskState.READY):
        task.data.update(data)
    return workflow


def new_workflow(version: WorkflowVersion, data: dict) -> BpmnWorkflow:
    """A fresh workflow of that version, run to its first wait (WorkflowFault if it fails)."""
    workflow = create_workflow(version, data)
    run_engine(workflow)
    return workflow


class _Budget:
    """Counts the tasks one engine run completes and stops it past MAX_STEPS or the time."""

    def __init__(self):
        self.steps, self.deadline = 0, time.monotonic() + STEP_BUDGET_SECONDS

    def __call__(self, task) -> None:
        self.steps += 1
        if task.depth > MAX_TASK_DEPTH:
            raise WorkflowFault(
                f"the workflow ran past its budget ({MAX_TASK_DEPTH} steps deep) at "
                f"{task.task_spec.bpmn_name or task.task_spec.name}: an endless loop?"
            )
        if self.steps > MAX_STEPS or time.monotonic() > self.deadline:
            raise WorkflowFault(
                f"the workflow ran past its budget ({MAX_STEPS} steps or "
                f"{STEP_BUDGET_SECONDS:g} s) at {task.task_spec.bpmn_name or task.task_spec.name}"
            )


def run_engine(workflow: BpmnWorkflow) -> None:
    """Advance the workflow as far as it goes, within the budget; raise WorkflowFault if the
    designer's content fails (an expression, a timer value, a loop without end)."""
    try:
        workflow.do_engine_steps(will_complete_task=_Budget())
    except Exception as err:
        raise _fault(err) from err


def run_task(task, workflow: BpmnWorkflow) -> None:
    """Complete a decided human task and run the engine on from it (WorkflowFault on failure:
    completing a task evaluates designer content too, such as a loop condition)."""
    try:
        task.run()
    except Exception as err:
        raise _fault(err) from err
    run_engine(workflow)


def _fault(err: Exception) -> WorkflowFault:
    """Whatever the BPMN makes Spiff raise is the designer's fault, never the caller's 500."""
    if isinstance(err, WorkflowFault):
        return err
    spec = getattr(err, "task_spec", None)
    where = "?" if spec is None else spec.name
    if spec is not None and spec.bpmn_name:
        where = f"{spec.bpmn_name} ({spec.name})"
    log.warning("workflow failed at %s: %r", where, err)
    return WorkflowFault(f"the workflow failed at {where}: {err}")


def dump_state(workflow: BpmnWorkflow) -> str:
    """The instance's state without its definition (that lives once, in workflow_versions)."""
    state = SERIALIZER.to_dict(workflow)
    try:
        return orjson.dumps(state, default=_encode, option=_ORJSON_OPTIONS).decode()
    except orjson.JSONEncodeError:  # what orjson refuses and json writes (an int past 64 bits)
        return json.dumps(state, separators=(",", ":"), cls=_FALLBACK_ENCODER)


def _encode(value):
    """A value in task data that JSON has no type for, as SpiffWorkflow's encoder writes it."""
    typename = _REGISTRY.typenames.get(type(value))
    if typename is not None:
        return _REGISTRY.convert_to_dict[typename](value)
    if callable(value) or isinstance(value, ModuleType):
        return None
    if isinstance(value, set):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def load_workflow(instance: ProcessInstance) -> BpmnWorkflow:
    """The live workflow of an instance, at exactly the version the row holds."""
    cached = _live.pop(instance.id, None)
    if cached is not None and cached[0] == instance.version:
        return cached[1]
    spec, subprocesses = spec_for_instance(instance)
    state = json.loads(instance.state)
    workflow = SERIALIZER.from_dict(state, spec=spec, subprocess_specs=subprocesses)
    workflow.script_engine = SCRIPT_ENGINE  # not serialized: set again after every load
    return workflow


def remember_after_commit(instance: ProcessInstance, workflow: BpmnWorkflow) -> None:
    """Keep the workflow in memory for the next operation, once (and only if) the unit commits.

    A rolled-back unit needs no undo: load_workflow took the entry out of the cache."""
    unit_of_work.after_commit(lambda: _keep(instance.id, instance.version, workflow))


def keep_all(started: list[tuple[str, Any]]) -> None:
    """Keep newly started workflows (version 1) once their unit committed: the last LIVE_LIMIT."""
    for instance_id, workflow in started[-LIVE_LIMIT:]:
        _keep(instance_id, 1, workflow)


def _keep(instance_id: str, version: int, workflow: BpmnWorkflow) -> None:
    _live[instance_id] = (version, workflow)
    _live.move_to_end(instance_id)
    while len(_live) > LIVE_LIMIT:
        _live.popitem(last=False)


def spiff_task(workflow: BpmnWorkflow, task_id: str):
    return workflow.get_task_from_id(UUID(task_id))


def ready_human_tasks(workflow: BpmnWorkflow) -> list:
    return workflow.get_tasks(state=TaskState.READY, manual=True)


def waiting_service_tasks(workflow: BpmnWorkflow) -> list:
    return [
        t
        for t in workflow.get_tasks(state=TaskState.STARTED)
        if isinstance(t.task_spec, DeferredServiceTask)
    ]


def waits(workflow: BpmnWorkflow) -> tuple[list, list]:
    """(ready human tasks, service tasks waiting on a worker), in one walk of the task tree."""
    human, service = [], []
    for task in workflow.get_tasks(state=TaskState.READY | TaskState.STARTED):
        if task.state == TaskState.READY:
            if task.task_spec.manual:
                human.append(task)
        elif isinstance(task.task_spec, DeferredServiceTask):
            service.append(task)
    return human, service


def ended_rejected(workflow: BpmnWorkflow) -> str | None:
    """The name of the 'reject' end event a finished instance reached, or None if it reached none.

    An end event counts as a rejection when its id or name contains "reject"."""
    for task in workflow.get_tasks(state=TaskState.COMPLETED):
        spec = task.task_spec
        if type(spec).__name__ == "EndEvent":
            label = f"{spec.bpmn_id or ''} {spec.bpmn_name or ''}"
            if "reject" in label.lower():
                return spec.bpmn_name or spec.bpmn_id
    return None


def next_timer_at(workflow: BpmnWorkflow) -> datetime | None:
    """When the earliest timer the workflow waits on falls due (naive UTC), or None."""
    due = []
    for pending in workflow.waiting_events():
        if "Timer" in pending.event_type and pending.value:
            moment = datetime.fromisoformat(pending.value)
            if moment.tzinfo is not None:
                moment = moment.astimezone(UTC).replace(tzinfo=None)
            due.append(moment)
    return min(due, default=None)


def fire_timers(workflow: BpmnWorkflow) -> None:
    """Let the timers that are due fire, and run the engine on from them."""
    workflow.refresh_timers()
    run_engine(workflow)
    run_engine(workflow)  # a fired boundary event cancels its task, then moves on
