"""Provisioning through jobs and the worker vs. a bare SCIM client loop, same scim2-server.

1. Starts scim2-server on loopback (two tenants: one for each side).
2. Sets up a database (SQLite file or a scratch PostgreSQL database), N users and the
   connected app `wiki`, and approves N items for it: N provisioning jobs wait (not timed).
3. Times the worker (the code `accessflow worker --once` runs: claim under a lease, look the
   account up, create it, record the log row, the account and the advanced workflow) until
   every item is `fulfilled`.
4. Times a bare client loop: one `requests` session POSTing the same N users to /Users.

Prints both rates and their ratio (worker / bare).

    .venv/bin/python benchmarks/provisioning.py --n 300 --database sqlite --threads 2
    .venv/bin/python benchmarks/provisioning.py --n 300 --database postgresql --threads 4

ACCESSFLOW_BENCH_PG (default postgresql://postgres@127.0.0.1:5432/test) names a server where the
script may create and drop a scratch database.
"""

import argparse
import os
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import psycopg
import requests
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.app import create_app, deploy_shipped_workflows  # noqa: E402
from api.worker import Worker  # noqa: E402
from engine.db import db  # noqa: E402
from engine.directory.importer import import_directory  # noqa: E402
from engine.directory.lookup import user_by_username  # noqa: E402
from engine.models import HumanTask, RequestItem  # noqa: E402
from engine.requests import cart  # noqa: E402
from engine.tasks import actions  # noqa: E402
from engine.workflow import runtime  # noqa: E402
from tests.scim_server import SCIM_TOKEN, ScimServerProcess  # noqa: E402

PG_ADMIN_URL = os.environ.get("ACCESSFLOW_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"


def directory(n: int, base_url: str) -> dict:
    users = [
        {"username": "alice", "email": "alice@example.com"},
        {"username": "mark"},
        {"username": "gina"},
    ]
    users += [
        {
            "username": f"user{i:05d}",
            "email": f"user{i:05d}@example.com",
            "display_name": f"User {i}",
            "first_name": "User",
            "last_name": f"N{i}",
            "manager": "mark",
        }
        for i in range(n)
    ]
    return {
        "users": users,
        "groups": [{"name": "approvers", "members": ["gina"]}, {"name": "admins"}],
        "applications": [
            {
                "key": "wiki",
                "name": "Wiki",
                "kind": "connected",
                "approver_group": "approvers",
                "connector": {"type": "scim", "base_url": base_url, "token": SCIM_TOKEN},
            }
        ],
    }


@contextmanager
def database(kind: str):
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as home:
            yield f"sqlite:///{home}/bench.db"
        return
    name = f"accessflow_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
            yield f"{base}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def queue_jobs(app, n: int, base_url: str) -> None:
    """N approved items for wiki: N pending provisioning jobs."""
    with app.app_context():
        db.create_all()
        deploy_shipped_workflows()
        import_directory(directory(n, base_url))
        alice = user_by_username("alice")
        for i in range(n):
            cart.add_to_cart(alice, "wiki", f"user{i:05d}")
        cart.submit_cart(alice)
        for username in ("mark", "gina"):
            user = user_by_username(username)
            for task_id in db.session.scalars(
                select(HumanTask.id).where(HumanTask.status == "open")
            ).all():
                actions.complete_task(user, task_id, "approve")
        db.session.remove()


def worker_rate(app, n: int, threads: int, batch: int, http_concurrency: int) -> float:
    runtime._live.clear()  # a real worker process starts without the approvals' cached state
    started = time.perf_counter()
    worker = Worker(app, "bench", threads=threads, batch=batch, http_concurrency=http_concurrency)
    done = worker.run_until_idle()
    elapsed = time.perf_counter() - started
    with app.app_context():
        fulfilled = db.session.scalar(select(func.count()).where(RequestItem.status == "fulfilled"))
        db.session.remove()
    assert done == n and fulfilled == n, (done, fulfilled)
    return n / elapsed


def bare_rate(base_url: str, n: int) -> float:
    session = requests.Session()
    session.headers.update(
        {"Authorization": f"Bearer {SCIM_TOKEN}", "Content-Type": "application/scim+json"}
    )
    started = time.perf_counter()
    for i in range(n):
        answer = session.post(
            base_url + "/Users",
            json={
                "schemas": [USER_SCHEMA],
                "userName": f"user{i:05d}",
                "name": {"givenName": "User", "familyName": f"N{i}"},
                "displayName": f"User {i}",
                "emails": [{"value": f"user{i:05d}@example.com", "type": "work", "primary": True}],
                "active": True,
            },
            timeout=10,
        )
        assert answer.status_code == 201, answer.text
    return n / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="users to provision on each side")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--threads", type=int, default=2, help="worker loops (threads)")
    parser.add_argument("--batch", type=int, default=20, help="jobs a loop takes at once")
    parser.add_argument("--http-concurrency", type=int, default=4, help="target calls at once")
    args = parser.parse_args()
    with ScimServerProcess(dynamic_tenants=True) as server, database(args.database) as url:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
        queue_jobs(app, args.n, server.tenant_url("worker"))
        worker = worker_rate(app, args.n, args.threads, args.batch, args.http_concurrency)
        bare = bare_rate(server.tenant_url("bare"), args.n)
        with app.app_context():
            db.engine.dispose()
    print(
        f"{args.n} users, {args.database}, worker: {args.threads} loops, batch {args.batch}, "
        f"{args.http_concurrency} calls at once"
    )
    print(f"worker (jobs, lookup + create, recorded):  {worker:8.1f} users/s")
    print(f"bare client loop (POST /Users):            {bare:8.1f} users/s")
    print(f"ratio worker / bare:                       {worker / bare:8.2f}")


if __name__ == "__main__":
    main()
