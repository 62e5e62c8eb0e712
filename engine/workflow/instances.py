"""Running an item's process instance and mirroring its waits into task and job rows."""

import os

from sqlalchemy import select
from sqlalchemy.orm import lazyload

from engine.access import assignments, notify
from engine.access.policy import auto_provision
from engine.audit import trail
from engine.db import db, new_id, utcnow
from engine.errors import Invalid, WorkflowFault
from engine.models import (
    HumanTask,
    Incident,
    ProcessInstance,
    ProvisioningJob,
    RequestItem,
    WorkflowVersion,
)
from engine.tasks.candidates import resolve_candidates
from engine.workflow import runtime
from engine.workflow.bpmn import latest_version

# How long an approval may wait before the request expires, unless the application says.
DEFAULT_APPROVAL_TIMEOUT = os.environ.get("ACCESSFLOW_APPROVAL_TIMEOUT", "P14D")
TASK_KINDS = {"failed_auto_provision": "failed_provisioning"}


def start_instance(
    item: RequestItem, version: WorkflowVersion | None = None
) -> tuple[ProcessInstance, WorkflowFault | None]:
    """Start the item's process on `version`, by default the newest deployed version of its
    application's workflow (a cart passes the one it looked up once for all its items).

    A workflow that fails on its way to the first wait still gets its instance row, as far as
    it went, and the fault is returned for the caller to record as an incident."""
    if version is None:
        with db.session.no_autoflush:  # the pending item is not needed by this lookup
            version = latest_version(item.application.workflow_key)
    if version is None:
        raise Invalid(f"no workflow {item.application.workflow_key!r} is deployed")
    workflow = runtime.create_workflow(version, initial_data(item))
    instance = ProcessInstance(id=new_id(), item=item, workflow_version=version)
    db.session.add(instance)
    try:
        runtime.run_engine(workflow)
        instance.state = runtime.dump_state(workflow)
        instance.next_timer_at = runtime.next_timer_at(workflow)
        sync(instance, workflow, open_tasks=[], open_jobs=[])
        fault = None
    except WorkflowFault as err:
        instance.state = runtime.dump_state(workflow)
        fault = err
    else:
        runtime.remember_after_commit(instance, workflow)
    return instance, fault


def initial_data(item: RequestItem) -> dict:
    """What expressions in the BPMN may read about the item: names and kinds, no secrets."""
    return {
        "item_id": item.id,
        "application": item.application.key,
        "application_kind": item.application.kind,
        "beneficiary": item.beneficiary.username,
        "requester": item.requester.username,
        "account_mode": item.account_mode,
        "origin": item.origin or "cart",
        "role": item.role or "",
        "auto_provision": auto_provision(item.application, item.origin or "cart"),
        "approval_timeout": item.application.approval_timeout or DEFAULT_APPROVAL_TIMEOUT,
    }


def save(instance: ProcessInstance, workflow) -> None:
    """Write the new state; the version column turns a concurrent write into a conflict."""
    instance.state = runtime.dump_state(workflow)
    instance.next_timer_at = runtime.next_timer_at(workflow)
    instance.updated_at = utcnow()
    if workflow.is_completed():
        instance.status = "completed"
    runtime.remember_after_commit(instance, workflow)


def sync(instance, workflow, open_tasks=None, open_jobs=None) -> None:
    """Make task rows, job rows and the item's status match what the workflow waits on."""
    # The lookups below read rows this operation does not create, so its changes are written
    # in one flush at commit rather than one per lookup.
    with db.session.no_autoflush:
        _sync(instance, workflow, open_tasks, open_jobs)


def sync_or_fault(instance, workflow, open_tasks=None) -> WorkflowFault | None:
    """sync(), returning the fault of a workflow whose waits cannot be mirrored (a service
    parameter that fails) rather than raising it."""
    try:
        sync(instance, workflow, open_tasks)
    except WorkflowFault as err:
        return err
    return None


def _sync(instance, workflow, open_tasks, open_jobs) -> None:
    item = instance.item
    if open_tasks is None:
        open_tasks = db.session.scalars(
            select(HumanTask)
            .where(HumanTask.instance_id == instance.id, HumanTask.status == "open")
            .options(lazyload(HumanTask.item))  # the item is already in the session
        ).all()
    # Unflushed (or read before this operation decided one), a task this operation completed
    # still reads "open" in the database.
    open_tasks = [row for row in open_tasks if row.status == "open"]
    human, waiting = runtime.waits(workflow)
    ready = {str(t.id): t for t in human}
    for row in open_tasks:
        if row.spiff_task_id not in ready:
            row.status = "cancelled"
            row.completed_at = utcnow()
    known = {row.spiff_task_id for row in open_tasks}
    kinds = []
    for task_id, task in ready.items():
        kind = TASK_KINDS.get(
            task.task_spec.name, "fulfillment" if task.task_spec.lane == "Fulfiller" else "approval"
        )
        kinds.append(kind)
        if task_id not in known:
            _create_task_row(instance, item, task, kind, runtime.next_timer_at(workflow))
    if waiting:
        _queue_jobs(instance, item, workflow, waiting, open_jobs)
    _set_item_status(item, workflow, kinds, bool(waiting))


def _create_task_row(instance, item, task, kind, due_at) -> None:
    user_id, group_id = resolve_candidates(task.task_spec.lane, item, task.task_spec.name)
    row = HumanTask(
        id=new_id(),
        instance_id=instance.id,
        instance=instance,
        item_id=item.id,
        spiff_task_id=str(task.id),
        spec_name=task.task_spec.name,
        title=task.task_spec.bpmn_name or task.task_spec.name,
        lane=task.task_spec.lane,
        kind=kind,
        candidate_user_id=user_id,
        candidate_group_id=group_id,
        requester_id=item.requester_id,
        beneficiary_id=item.beneficiary_id,
        application_id=item.application_id,
        due_at=due_at,  # the instance's next timer: the task's deadline in the shipped BPMN
    )
    db.session.add(row)
    trail.record("task_created", None, item=item, task_id=row.id, lane=row.lane, title=row.title)


def _queue_jobs(instance, item, workflow, waiting, open_jobs) -> None:
    if open_jobs is None:
        open_jobs = db.session.scalars(
            select(ProvisioningJob).where(
                ProvisioningJob.instance_id == instance.id,
                ProvisioningJob.status.in_(("pending", "running")),
            )
        ).all()
    queued = {job.spiff_task_id for job in open_jobs}
    for task in waiting:
        if str(task.id) in queued:
            continue
        job = ProvisioningJob(
            id=new_id(),
            item_id=item.id,
            instance_id=instance.id,
            instance=instance,
            application_id=item.application_id,
            spiff_task_id=str(task.id),
            operation=task.task_spec.operation_name,
            params=_service_parameters(task),
        )
        db.session.add(job)
        trail.record("provisioning_queued", None, item=item, job_id=job.id, operation=job.operation)


def _service_parameters(task) -> dict:
    """The service task's parameters, evaluated; a failing one is the workflow's fault."""
    try:
        evaluated = task.task_spec.evaluate_params(task)
    except Exception as err:  # the evaluator's refusal arrives wrapped by Spiff
        raise WorkflowFault(f"a parameter of {task.task_spec.bpmn_name!r} failed: {err}") from err
    return {name: value["value"] for name, value in evaluated.items()}


def _set_item_status(item, workflow, kinds, provisioning) -> None:
    if workflow.is_completed():
        rejected_at = runtime.ended_rejected(workflow)
        if rejected_at:
            newly = item.status != "rejected"
            item.finish("rejected", item.outcome_reason or f"ended at {rejected_at}")
            if newly:
                notify.item_rejected(item)
        else:
            newly = item.status != "fulfilled"
            item.finish("fulfilled", item.outcome_reason)
            assignments.item_fulfilled(item)
            if newly:
                notify.item_fulfilled(item)
    elif "failed_provisioning" in kinds:
        item.status = "failed"
    elif "fulfillment" in kinds:
        item.status = "pending_fulfillment"
    elif provisioning:
        item.status = "provisioning"
    else:
        item.status = "pending_approval"


def close_incidents(item_id: str, resolution: str, actor_id: str | None = None) -> None:
    """Resolve the item's open incidents: people handled the failure, or it no longer matters."""
    for incident in db.session.scalars(
        select(Incident).where(Incident.item_id == item_id, Incident.status == "open")
    ):
        incident.close(resolution, actor_id)
