"""Starting many items' processes in one transaction (a group grant, a cart submit).

Each workflow still runs on its own, to its first wait; what changes is the writing. Rather than
an ORM object per row flushed one by one, `StartBatch` collects plain rows and `write()` sends
one INSERT of many rows per table (items, instances, tasks, jobs), in the caller's transaction.
An item whose workflow ends or fails on its way to the first wait is left to the ordinary path
(`instances.start_instance`), which knows how to finish it or open its incident.
"""

from collections import deque

from sqlalchemy import insert

from engine import unit_of_work
from engine.audit import trail
from engine.db import db, new_id, utcnow
from engine.errors import WorkflowFault
from engine.models import HumanTask, ProcessInstance, ProvisioningJob, RequestItem, WorkflowVersion
from engine.requests.drafts import ItemDraft
from engine.workflow import instances, runtime

# In foreign-key order; Model.__table__ is a Table at run time.
TABLES = tuple(m.__table__ for m in (RequestItem, ProcessInstance, HumanTask, ProvisioningJob))


class StartBatch:
    """Rows of the items started so far, written by `write()`."""

    def __init__(self) -> None:
        self.rows: dict[object, list[dict]] = {table: [] for table in TABLES}
        # (instance id, workflow) to keep after the commit: only as many as the cache holds.
        self.live: deque[tuple[str, object]] = deque(maxlen=runtime.LIVE_LIMIT)

    def start(self, draft: ItemDraft, version: WorkflowVersion, **submitted) -> bool:
        """Start the draft's process to its first wait and queue its rows (and its `submitted`
        event, with these details); False, with nothing queued or recorded, when the workflow
        completes or fails on the way."""
        workflow = runtime.create_workflow(version, instances.initial_data(draft))
        try:
            runtime.run_engine(workflow)
        except WorkflowFault:
            return False
        if workflow.is_completed():
            return False
        human, waiting = runtime.waits(workflow)
        due_at = runtime.next_timer_at(workflow)
        try:
            params = [instances.service_parameters(task) for task in waiting]
        except WorkflowFault:  # a service parameter fails: the ordinary path records it
            return False
        instance_id = new_id()
        trail.record(
            "submitted", draft.requester.id, item=draft, comment=draft.justification, **submitted
        )
        jobs = [
            instances.job_columns(instance_id, draft, task, values)
            for task, values in zip(waiting, params, strict=True)
        ]
        kinds = [instances.task_kind(task) for task in human]
        tasks = [
            instances.task_columns(instance_id, draft, task, kind, due_at)
            for task, kind in zip(human, kinds, strict=True)
        ]
        draft.status = instances.waiting_status(kinds, bool(waiting))
        now = utcnow()
        self.rows[RequestItem.__table__].append(draft.columns())
        self.rows[ProcessInstance.__table__].append(
            {
                "id": instance_id,
                "item_id": draft.id,
                "workflow_version_id": version.id,
                "state": runtime.dump_state(workflow),
                "status": "running",
                "version": 1,
                "next_timer_at": due_at,
                "created_at": now,
                "updated_at": now,
            }
        )
        self.rows[HumanTask.__table__].extend(tasks)  # the other columns take their defaults
        self.rows[ProvisioningJob.__table__].extend(jobs)
        self.live.append((instance_id, workflow))
        return True

    def write(self) -> None:
        """One INSERT of many rows per table; the live workflows are kept once the unit commits."""
        with db.session.no_autoflush:
            for table, rows in self.rows.items():
                if rows:
                    db.session.execute(insert(table), rows)  # type: ignore[arg-type]
                    rows.clear()
        live = list(self.live)
        self.live.clear()
        if live:
            unit_of_work.after_commit(lambda: runtime.keep_all(live))
