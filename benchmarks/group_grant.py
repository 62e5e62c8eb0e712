"""People joining a group that grants applications: the worker applies it in one transaction.

    .venv/bin/python benchmarks/group_grant.py [--sizes 200,2000] [--rounds 3]
        [--database sqlite,postgresql] [--profile]

Setup (not timed): a directory of max(sizes) people and, per round, a new group granting 5 new
disconnected applications (so every round starts with free slots and no assignment). Then the
group's members are set to the first N people (`groups.set_members`, as an import does): N × 5
pairs are more than INLINE_PAIRS, so the change is queued as an AccessChange and committed.
Timed: `changes.run_due`, the worker's path: lease the change, apply it in one transaction
(N × 5 assignments, items, `grant` instances to their first wait, fulfillment tasks), commit.
In the same round, bare SpiffWorkflow starts N × 5 instances of the same `grant` BPMN in memory
(to their first wait, nothing saved): the baseline the ratio is taken against.
Prints, per size and database: seconds, items/s, ms/item and the ratio apply / bare,
min/median/max over the rounds, and the same ratio in this process's CPU time (steadier on a
shared machine; the database server's CPU is not in it). `--profile` prints a cProfile of one
apply instead.
"""

import argparse
import cProfile
import pstats
import statistics
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DATABASES, database_url, fresh_app, spread  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from api.app import deploy_shipped_workflows  # noqa: E402
from engine.access import changes, groups  # noqa: E402
from engine.db import db  # noqa: E402
from engine.directory.importer import import_directory  # noqa: E402
from engine.models import AccessChange, Group, RequestItem  # noqa: E402
from engine.unit_of_work import unit_of_work  # noqa: E402
from engine.workflow import runtime  # noqa: E402
from engine.workflow.bpmn import parse_bpmn  # noqa: E402
from tests.conftest import DIRECTORY  # noqa: E402

BPMN = (Path(__file__).resolve().parent.parent / "workflows" / "grant.bpmn").read_text()
APPS = 5


def bare_seconds(n: int) -> tuple[float, float]:
    """Start n instances of the grant process to their first wait, in memory: (wall, CPU) s."""
    _, spec, subprocesses = parse_bpmn(BPMN)
    started, cpu = time.perf_counter(), time.process_time()
    for i in range(n):
        workflow = BpmnWorkflow(spec, subprocesses, script_engine=runtime.SCRIPT_ENGINE)
        for task in workflow.get_tasks(state=TaskState.READY):
            task.data.update(
                item_id=str(i),
                application="app",
                application_kind="disconnected",
                beneficiary=f"p{i}",
                requester="root",
                account_mode="create",
                origin="group",
                role="",
                auto_provision=False,
                approval_timeout="P14D",
            )
        workflow.do_engine_steps()
    return time.perf_counter() - started, time.process_time() - cpu


def prepared_app(url: str, people: int):
    app = fresh_app(url)
    directory = dict(DIRECTORY)
    directory["users"] = DIRECTORY["users"] + [
        {"username": f"p{i:05d}", "email": f"p{i}@example.com", "manager": "mark"}
        for i in range(people)
    ]
    with app.app_context(), unit_of_work():
        deploy_shipped_workflows()
        import_directory(directory)
    return app


def queue_join(app, name: str, people: int) -> None:
    """A new group `name` granting 5 new applications; then `people` people join it (queued)."""
    apps = [
        {
            "key": f"{name}-app{j}",
            "name": f"{name} app {j}",
            "kind": "disconnected",
            "approver_group": "crm-approvers",
            "fulfiller_group": "it-fulfillers",
        }
        for j in range(APPS)
    ]
    grants = [{"application": a["key"]} for a in apps]
    with app.app_context():
        with unit_of_work():
            import_directory({"applications": apps, "groups": [{"name": name, "members": []}]})
        with unit_of_work():
            group = groups.group_by_name(name)
            groups.set_applications(None, group, grants, "benchmark")
        with unit_of_work():
            group = groups.group_by_name(name)
            usernames = [f"p{i:05d}" for i in range(people)]
            groups.set_members(None, group, usernames, "benchmark")
        queued = db.session.scalar(
            select(func.count()).select_from(AccessChange).where(AccessChange.status == "queued")
        )
        assert queued == 1, queued
        db.session.remove()


def apply_seconds(app, name: str, people: int, profile: bool = False) -> tuple[float, float]:
    """(wall, CPU) seconds of the worker applying `people` joins (this process's CPU only)."""
    queue_join(app, name, people)
    profiler = cProfile.Profile() if profile else None
    started, cpu = time.perf_counter(), time.process_time()
    with app.app_context():
        if profiler:
            profiler.enable()
        assert changes.run_due("bench") == 1
        if profiler:
            profiler.disable()
        elapsed = time.perf_counter() - started, time.process_time() - cpu
        group_id = db.session.scalar(select(Group.id).where(Group.name == name))
        change = db.session.scalar(select(AccessChange).where(AccessChange.group_id == group_id))
        made = db.session.scalar(
            select(func.count()).select_from(RequestItem).where(RequestItem.origin == "group")
        )
        assert change.status == "done" and change.counts["items"] == people * APPS, change.counts
        assert made is not None
        db.session.remove()
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="200,2000", help="people joining")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database", default=",".join(DATABASES))
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    kinds = args.database.split(",")
    with ExitStack() as stack:
        apps = {
            kind: prepared_app(stack.enter_context(database_url(kind)), max(sizes))
            for kind in kinds
        }
        for kind, app in apps.items():
            apply_seconds(app, "warm", 20)  # the spec cache, the pool
            if args.profile:
                print(f"--- {kind}: profile of {max(sizes)} people × {APPS} apps")
                apply_seconds(app, "profiled", max(sizes), profile=True)
        if args.profile:
            return
        for n in sizes:
            items = n * APPS
            seconds = {kind: [] for kind in kinds}
            ratios = {kind: [] for kind in kinds}
            cpu_ratios = {kind: [] for kind in kinds}
            bare_all = []
            for number in range(1, args.rounds + 1):
                bare, bare_cpu = bare_seconds(items)
                bare_all.append(bare)
                line = f"{n:5d} people ({items:6d} items), round {number}: bare {bare:6.2f} s"
                for kind, app in apps.items():
                    took, cpu = apply_seconds(app, f"g{n}r{number}", n)
                    seconds[kind].append(took)
                    ratios[kind].append(took / bare)
                    cpu_ratios[kind].append(cpu / bare_cpu)
                    line += (
                        f"  {kind} {took:7.2f} s ({took / bare:.2f}×, CPU {cpu / bare_cpu:.2f}×)"
                    )
                print(line, flush=True)
            bare_ms = statistics.median(bare_all) / items * 1000
            print(f"{n:5d} people: bare {bare_ms:.3f} ms/item (median)")
            for kind in kinds:
                print(
                    f"{n:5d} people: {kind} s {spread(seconds[kind])}, "
                    f"items/s {spread([items / s for s in seconds[kind]])}, "
                    f"ms/item {spread([s / items * 1000 for s in seconds[kind]])}, "
                    f"apply/bare {spread(ratios[kind])}, CPU apply/bare {spread(cpu_ratios[kind])}",
                    flush=True,
                )
        for app in apps.values():
            with app.app_context():
                db.engine.dispose()


if __name__ == "__main__":
    main()
