"""One cart of people × applications submitted through the service layer vs bare SpiffWorkflow.

    .venv/bin/python benchmarks/cart_submit.py [--sizes 100,1000,10000] [--rounds 3]
        [--database sqlite,postgresql]

Setup (not timed): a directory of N/10 people (manager mark) and 10 disconnected applications,
and a cart of N lines (every person × every application) written straight into `cart_items`.
Timed: `cart.submit_cart` in its own app context, as a web request makes it, including its
commit. In the same round, bare SpiffWorkflow starts N instances of the same BPMN in memory (to
their first wait, nothing saved). Between rounds the items are closed so the slots are free again.
Prints ms per item and the ratio submit / bare per size and database, min/median/max.
"""

import argparse
import statistics
import sys
import time
from contextlib import ExitStack, nullcontext
from pathlib import Path

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DATABASES, Counter, database_url, fresh_app, spread  # noqa: E402
from sqlalchemy import insert, select, update  # noqa: E402

from api.app import deploy_shipped_workflows  # noqa: E402
from engine.db import db, new_id, utcnow  # noqa: E402
from engine.directory.importer import import_directory  # noqa: E402
from engine.directory.lookup import user_by_username  # noqa: E402
from engine.models import Application, CartItem, RequestItem, User  # noqa: E402
from engine.requests import cart  # noqa: E402
from engine.unit_of_work import unit_of_work  # noqa: E402
from engine.workflow import runtime  # noqa: E402
from engine.workflow.bpmn import parse_bpmn  # noqa: E402
from tests.conftest import DIRECTORY  # noqa: E402

BPMN = (Path(__file__).resolve().parent.parent / "workflows" / "access_request.bpmn").read_text()
APPS = 10


def bare_seconds(n: int) -> float:
    """Start n instances to their first wait, in memory."""
    _, spec, subprocesses = parse_bpmn(BPMN)
    started = time.perf_counter()
    for _ in range(n):
        workflow = BpmnWorkflow(spec, subprocesses, script_engine=runtime.SCRIPT_ENGINE)
        for task in workflow.get_tasks(state=TaskState.READY):
            task.data.update(
                application_kind="disconnected", account_mode="create", approval_timeout="P14D"
            )
        workflow.do_engine_steps()
    return time.perf_counter() - started


def prepared_app(url: str, people: int):
    app = fresh_app(url)
    directory = dict(DIRECTORY)
    directory["users"] = DIRECTORY["users"] + [
        {"username": f"p{i:05d}", "email": f"p{i}@example.com", "manager": "mark"}
        for i in range(people)
    ]
    directory["applications"] = DIRECTORY["applications"] + [
        {
            "key": f"app{j}",
            "name": f"App {j}",
            "kind": "disconnected",
            "approver_group": "crm-approvers",
            "fulfiller_group": "it-fulfillers",
        }
        for j in range(APPS)
    ]
    with app.app_context(), unit_of_work():
        deploy_shipped_workflows()
        import_directory(directory)
    return app


def fill_cart(app, n: int) -> None:
    """n lines in alice's cart: the first n/10 people × the 10 applications."""
    with app.app_context():
        owner = user_by_username("alice").id
        people = db.session.scalars(
            select(User.id).where(User.username.like("p%")).order_by(User.username)
        ).all()[: n // APPS]
        apps = db.session.scalars(
            select(Application.id).where(Application.key.like("app%")).order_by(Application.key)
        ).all()
        now = utcnow()
        rows = [
            {
                "id": new_id(),
                "owner_id": owner,
                "application_id": app_id,
                "beneficiary_id": person,
                "account_mode": "create",
                "created_at": now,
            }
            for person in people
            for app_id in apps
        ]
        db.session.execute(insert(CartItem), rows)
        db.session.commit()


def close_items(app) -> None:
    with app.app_context():
        db.session.execute(update(RequestItem).values(open_key=None, status="cancelled"))
        db.session.commit()


def submit_seconds(app, n: int, counter: Counter | None = None) -> float:
    fill_cart(app, n)
    started = time.perf_counter()
    with app.app_context(), counter.counting() if counter else nullcontext(), unit_of_work():
        request = cart.submit_cart(user_by_username("alice"))
        assert len(request.items) == n
    elapsed = time.perf_counter() - started
    close_items(app)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database", default=",".join(DATABASES))
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    kinds = args.database.split(",")
    with ExitStack() as stack:
        apps = {
            kind: prepared_app(stack.enter_context(database_url(kind)), max(sizes) // APPS)
            for kind in kinds
        }
        for kind, app in apps.items():
            submit_seconds(app, APPS)  # warm the spec cache and the pool
            counter = Counter(app)
            submit_seconds(app, 100, counter)
            print(
                f"{kind}: {counter.statements} statements, {counter.commits} commits for 100 items"
            )
        for n in sizes:
            ratios = {kind: [] for kind in kinds}
            per_item = {kind: [] for kind in kinds}
            bare_per_item = []
            for number in range(1, args.rounds + 1):
                bare = bare_seconds(n)
                bare_per_item.append(bare / n * 1000)
                line = f"{n:6d} items, round {number}: bare {bare:6.2f} s"
                for kind, app in apps.items():
                    seconds = submit_seconds(app, n)
                    ratios[kind].append(seconds / bare)
                    per_item[kind].append(seconds / n * 1000)
                    line += f"  {kind} {seconds:7.2f} s ({seconds / bare:.2f}×)"
                print(line, flush=True)
            print(f"{n:6d} items: bare {statistics.median(bare_per_item):.3f} ms/item (median)")
            for kind in kinds:
                print(
                    f"{n:6d} items: {kind} ms/item {spread(per_item[kind])}, "
                    f"submit/bare {spread(ratios[kind])}",
                    flush=True,
                )
        for app in apps.values():
            with app.app_context():
                db.engine.dispose()


if __name__ == "__main__":
    main()
