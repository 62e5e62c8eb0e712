"""Full disconnected lifecycles through the service functions vs bare SpiffWorkflow in memory.

    .venv/bin/python benchmarks/lifecycle.py [N]

One lifecycle: add to cart, submit, manager approves, approver group approves, a fulfiller
claims and completes with the account id. Prints lifecycles/s for bare SpiffWorkflow (same
BPMN, no database), for SQLite and for PostgreSQL, and the ratio persisted/bare.
"""

import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select  # noqa: E402

from api.app import create_app, deploy_shipped_workflows  # noqa: E402
from engine import cart, runtime, tasks  # noqa: E402
from engine.bpmn import parse_bpmn  # noqa: E402
from engine.db import db  # noqa: E402
from engine.directory import import_directory, user_by_username  # noqa: E402
from engine.models import HumanTask  # noqa: E402
from tests.conftest import DIRECTORY, PG_ADMIN_URL  # noqa: E402

BPMN = (Path(__file__).resolve().parent.parent / "workflows" / "access_request.bpmn").read_text()


def bare_rate(n: int) -> float:
    _, spec, subprocesses = parse_bpmn(BPMN)
    decisions = [{"decision": "approve"}, {"decision": "approve"}, {"decision": "approve"}]
    started = time.perf_counter()
    for _ in range(n):
        workflow = BpmnWorkflow(spec, subprocesses, script_engine=runtime.SCRIPT_ENGINE)
        for task in workflow.get_tasks(state=TaskState.READY):
            task.data.update(
                application_kind="disconnected", account_mode="create", approval_timeout="P14D"
            )
        workflow.do_engine_steps()
        for data in decisions:
            task = workflow.get_tasks(state=TaskState.READY, manual=True)[0]
            task.data.update(data)
            task.run()
            workflow.do_engine_steps()
        assert workflow.is_completed()
    return n / (time.perf_counter() - started)


def persisted_rate(url: str, n: int) -> float:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
    with app.app_context():
        db.drop_all()
        db.create_all()
        deploy_shipped_workflows()
        import_directory(DIRECTORY)
    lifecycle(app)  # warm caches and the connection pool
    started = time.perf_counter()
    for _ in range(n):
        lifecycle(app)
    elapsed = time.perf_counter() - started
    with app.app_context():
        db.engine.dispose()
    return n / elapsed


def as_request(app, username, action):
    """One call the way a web request makes it: its own session, the caller looked up first."""
    with app.app_context():
        return action(user_by_username(username))


def lifecycle(app) -> None:
    as_request(app, "alice", lambda u: cart.add_to_cart(u, "crm", "bob", "create", "bench"))
    item_id = as_request(app, "alice", lambda u: cart.submit_cart(u).items[0].id)
    for username in ("mark", "gina"):
        as_request(app, username, lambda u: tasks.complete_task(u, next_task(item_id), "approve"))
    task_id = as_request(app, "fred", lambda u: tasks.claim_task(u, next_task(item_id)).id)
    item = as_request(
        app, "fred", lambda u: tasks.complete_task(u, task_id, "approve", account_id="CRM-1").item
    )
    assert item.status == "fulfilled"


def next_task(item_id: str) -> str:
    """The item's open task, as a client finds it in its inbox listing."""
    return db.session.scalar(
        select(HumanTask.id).where(HumanTask.item_id == item_id, HumanTask.status == "open")
    )


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    bare = bare_rate(n * 3)
    print(f"bare SpiffWorkflow (in memory): {bare:8.1f} lifecycles/s")
    with tempfile.TemporaryDirectory() as home:
        sqlite = persisted_rate(f"sqlite:///{home}/bench.db", n)
    print(f"SQLite (file, WAL):             {sqlite:8.1f} lifecycles/s  ratio {sqlite / bare:.2f}")
    name = f"accessflow_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
            pg = persisted_rate(f"{base}/{name}", n)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"PostgreSQL (127.0.0.1):         {pg:8.1f} lifecycles/s  ratio {pg / bare:.2f}")


if __name__ == "__main__":
    main()
