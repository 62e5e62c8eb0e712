"""The inbox of an approver with 100,000 open tasks among 1,000,000 closed ones, on PostgreSQL.

    .venv/bin/python benchmarks/inbox.py [--open 100000] [--closed 1000000]
        [--api-pages 200] [--ui-pages 50]

Setup (not timed): the small directory, and rows made by `generate_series` in SQL: 1,000 items
with their instances, and open + closed approval tasks of the group crm-approvers (gina's),
interleaved in time. Timed: gina's `GET /api/v1/tasks` (bearer token) and her `/inbox` page
(signed-in session) through Flask's test client, each following its `next` cursor page by page
from the first; prints p50 / p95 / max in ms.
"""

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import database_url, fresh_app  # noqa: E402
from sqlalchemy import text  # noqa: E402

from api.app import deploy_shipped_workflows  # noqa: E402
from engine.db import db  # noqa: E402
from engine.directory.importer import import_directory  # noqa: E402
from engine.directory.lookup import user_by_username  # noqa: E402
from engine.directory.tokens import issue_token  # noqa: E402
from tests.conftest import DIRECTORY  # noqa: E402

ITEMS = 1000
ROWS = """
INSERT INTO access_requests (id, requester_id, submitted_at)
VALUES ('bench-request', :alice, now());
INSERT INTO request_items (id, request_id, position, requester_id, beneficiary_id,
    application_id, account_mode, status, open_key, created_at, updated_at)
SELECT 'bench-item-' || i, 'bench-request', i, :alice, :bob, :crm, 'create',
    'pending_approval', 'bench-' || i, now(), now()
FROM generate_series(1, :items) AS i;
INSERT INTO process_instances (id, item_id, workflow_version_id, state, status, version,
    created_at, updated_at)
SELECT 'bench-instance-' || i, 'bench-item-' || i, :version, '{}', 'running', 1, now(), now()
FROM generate_series(1, :items) AS i;
INSERT INTO human_tasks (id, instance_id, item_id, spiff_task_id, spec_name, title, lane, kind,
    candidate_group_id, requester_id, beneficiary_id, application_id, status, created_at,
    completed_at)
SELECT md5(i::text)::uuid::text, 'bench-instance-' || (i % :items + 1),
    'bench-item-' || (i % :items + 1), md5(i::text)::uuid::text, 'GroupApproval',
    'Approve as the application''s approvers', 'ApproverGroup', 'approval', :group, :alice,
    :bob, :crm, CASE WHEN i % :every = 0 THEN 'open' ELSE 'completed' END,
    timestamp '2024-01-01' + i * interval '1 second',
    CASE WHEN i % :every = 0 THEN NULL ELSE timestamp '2024-01-02' END
FROM generate_series(1, :total) AS i;
ANALYZE;
"""


def prepared_app(url: str, open_tasks: int, closed_tasks: int):
    app = fresh_app(url)
    with app.app_context():
        deploy_shipped_workflows()
        import_directory(DIRECTORY)
        ids = dict(
            db.session.execute(
                text(
                    "SELECT 'alice', id FROM users WHERE username = 'alice' UNION ALL "
                    "SELECT 'bob', id FROM users WHERE username = 'bob' UNION ALL "
                    "SELECT 'crm', id FROM applications WHERE key = 'crm' UNION ALL "
                    "SELECT 'group', id FROM groups WHERE name = 'crm-approvers' UNION ALL "
                    "SELECT 'version', id FROM workflow_versions"
                )
            ).all()
        )
        total = open_tasks + closed_tasks
        params = {**ids, "items": ITEMS, "total": total, "every": total // open_tasks}
        for statement in ROWS.split(";"):
            if statement.strip():
                db.session.execute(text(statement), params)
        db.session.commit()
    return app


def percentiles(name: str, samples: list[float]) -> None:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    print(
        f"{name}: p50 {statistics.median(ordered):7.1f} ms  p95 {p95:7.1f} ms  "
        f"max {ordered[-1]:7.1f} ms  ({len(ordered)} pages)",
        flush=True,
    )


def api_pages(client, token: str, pages: int) -> list[float]:
    samples, cursor = [], None
    for _ in range(pages):
        path = "/api/v1/tasks?limit=50" + (f"&cursor={cursor}" if cursor else "")
        started = time.perf_counter()
        answer = client.get(path, headers={"Authorization": f"Bearer {token}"})
        samples.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, answer.text
        body = answer.get_json()
        assert len(body["items"]) == 50
        cursor = body["next"]
    return samples


def ui_pages(client, pages: int) -> list[float]:
    samples, path = [], "/inbox"
    for _ in range(pages):
        started = time.perf_counter()
        answer = client.get(path)
        samples.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, answer.text
        following = re.search(r'href="(/inbox\?[^"]*after=[^"]+)"', answer.text)
        path = following.group(1).replace("&amp;", "&") if following else "/inbox"
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--open", type=int, default=100_000)
    parser.add_argument("--closed", type=int, default=1_000_000)
    parser.add_argument("--api-pages", type=int, default=200)
    parser.add_argument("--ui-pages", type=int, default=50)
    args = parser.parse_args()
    with database_url("postgresql") as url:
        started = time.perf_counter()
        app = prepared_app(url, args.open, args.closed)
        print(
            f"{args.open} open, {args.closed} closed tasks made in "
            f"{time.perf_counter() - started:.1f} s",
            flush=True,
        )
        with app.app_context():
            token = issue_token("gina")
            gina = user_by_username("gina")
            user_id, session_version = gina.id, gina.session_version
        client = app.test_client()
        with client.session_transaction() as session:
            session["user_id"], session["session_version"] = user_id, session_version
        api_pages(client, token, 3)  # warm the pool and caches
        percentiles("API  GET /api/v1/tasks?limit=50", api_pages(client, token, args.api_pages))
        ui_pages(client, 1)
        percentiles("UI   GET /inbox", ui_pages(client, args.ui_pages))
        with app.app_context():
            db.engine.dispose()


if __name__ == "__main__":
    main()
