"""Full disconnected lifecycles through the service functions vs bare SpiffWorkflow in memory.

    .venv/bin/python benchmarks/lifecycle.py [N] [ROUNDS]

One lifecycle: add to cart, submit, manager approves, approver group approves, a fulfiller
claims and completes with the account id. Each round runs N bare lifecycles (same BPMN, no
database), N on SQLite and N on PostgreSQL in turns of 10 of each, so load on the machine hits
all three alike; it prints lifecycles/s and the ratio persisted/bare per round, their
min/median/max, the SQL statements and commits of one lifecycle (the benchmark's own task
lookups included), and this process's CPU time per lifecycle with the bare / persisted ratio of
CPU times (steadier than wall clock on a loaded machine; PostgreSQL's own CPU is not in it).
"""

import sys
import time
from contextlib import ExitStack
from pathlib import Path

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DATABASES, Counter, database_url, fresh_app, spread  # noqa: E402
from sqlalchemy import select  # noqa: E402
from sqlalchemy.orm import joinedload  # noqa: E402

from api.app import deploy_shipped_workflows, freeze_startup_objects  # noqa: E402
from engine.db import db  # noqa: E402
from engine.directory.importer import import_directory  # noqa: E402
from engine.models import HumanTask, User  # noqa: E402
from engine.requests import cart  # noqa: E402
from engine.tasks import actions  # noqa: E402
from engine.unit_of_work import unit_of_work  # noqa: E402
from engine.workflow import runtime  # noqa: E402
from engine.workflow.bpmn import parse_bpmn  # noqa: E402
from tests.conftest import DIRECTORY  # noqa: E402

BPMN = (Path(__file__).resolve().parent.parent / "workflows" / "access_request.bpmn").read_text()


TURN = 10


def bare_seconds(n: int) -> float:
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
    return time.perf_counter() - started


def prepared_app(url: str):
    app = fresh_app(url)
    with app.app_context(), unit_of_work():
        deploy_shipped_workflows()
        import_directory(DIRECTORY)
    lifecycle(app)  # warm caches and the connection pool
    return app


def persisted_seconds(app, n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        lifecycle(app)
    return time.perf_counter() - started


def as_request(app, username, action):
    """One call the way an API request makes it: its own session and unit of work (one commit),
    the caller looked up first with their groups in one query (as `user_for_token` does)."""
    with app.app_context(), unit_of_work():
        return action(caller(username))


def caller(username: str) -> User:
    return (
        db.session.scalars(
            select(User).where(User.username == username).options(joinedload(User.groups))
        )
        .unique()
        .one()
    )


def lifecycle(app) -> None:
    as_request(app, "alice", lambda u: cart.add_to_cart(u, "crm", "bob", "create", "bench"))
    item_id = as_request(app, "alice", lambda u: cart.submit_cart(u).items[0].id)
    for username in ("mark", "gina"):
        as_request(app, username, lambda u: actions.complete_task(u, next_task(item_id), "approve"))
    task_id = as_request(app, "fred", lambda u: actions.claim_task(u, next_task(item_id)).id)
    item = as_request(
        app, "fred", lambda u: actions.complete_task(u, task_id, "approve", account_id="CRM-1").item
    )
    assert item.status == "fulfilled"


def next_task(item_id: str) -> str:
    """The item's open task, as a client finds it in its inbox listing."""
    return db.session.scalar(
        select(HumanTask.id).where(HumanTask.item_id == item_id, HumanTask.status == "open")
    )


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    ratios: dict[str, list[float]] = {kind: [] for kind in DATABASES}
    # This process's CPU time (the PostgreSQL server's is not in it): on a loaded machine the
    # wall-clock ratios swing with the neighbours, CPU time much less.
    cpu_seconds = dict.fromkeys(["bare", *DATABASES], 0.0)
    with ExitStack() as stack:
        apps = {kind: prepared_app(stack.enter_context(database_url(kind))) for kind in DATABASES}
        freeze_startup_objects()  # as the server and the worker do once their app is built
        for kind, app in apps.items():
            counter = Counter(app)
            with counter.counting():
                lifecycle(app)
            print(f"{kind}: {counter.statements} statements, {counter.commits} commits / lifecycle")
        for number in range(1, rounds + 1):
            seconds = dict.fromkeys(["bare", *apps], 0.0)
            for _ in range(0, n, TURN):
                cpu = time.process_time()
                seconds["bare"] += bare_seconds(TURN)
                cpu_seconds["bare"] += time.process_time() - cpu
                for kind, app in apps.items():
                    cpu = time.process_time()
                    seconds[kind] += persisted_seconds(app, TURN)
                    cpu_seconds[kind] += time.process_time() - cpu
            bare = n / seconds["bare"]
            line = f"round {number}: bare {bare:7.1f}/s"
            for kind in apps:
                rate = n / seconds[kind]
                ratios[kind].append(rate / bare)
                line += f"  {kind} {rate:6.1f}/s ({rate / bare:.3f})"
            print(line, flush=True)
        for app in apps.values():
            with app.app_context():
                db.engine.dispose()
    for kind, values in ratios.items():
        print(f"{kind} / bare, min / median / max over {rounds} rounds: {spread(values)}")
    total = n * rounds
    for kind, spent in cpu_seconds.items():
        line = f"{kind}: {spent / total * 1000:.1f} ms CPU / lifecycle"
        if kind != "bare":
            line += f" (bare / {kind} CPU: {cpu_seconds['bare'] / spent:.3f})"
        print(line)


if __name__ == "__main__":
    main()
