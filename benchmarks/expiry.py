"""The worker's expiry and reminder scans on a big assignments table vs one 10x smaller.

    .venv/bin/python benchmarks/expiry.py [--sizes 100000,1000000] [--rounds 3]
        [--due 300] [--database sqlite,postgresql]

Setup (not timed): 1,000 people (each with a manager) and size/1,000 applications; `size`
assignment rows written with Core executemany: 80 % active with no end, 10 % ended long ago
(their end date passed: the rows an unindexed scan would wade through), 10 % active ending in
months, and `due` active rows whose end has passed plus `due` ending within the reminder
window. No accounts are on record, so an expiry ends the assignment and looks for what to
remove, but starts no process (that cost is the removal flow's, not the scan's).

Timed, per round and size: `Worker.expire_access` as the scheduler runs it (expiry batches,
then reminder batches, one unit of work each, their commits included): `due` assignments
ended with their audit rows, `due` reminded with two notices each. Between rounds the due rows
are put back (not timed). Prints seconds min/median/max per size and database and the ratio
big / small of the medians: flat (about 1) when the scans read through the index.
"""

import argparse
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DATABASES, database_url, fresh_app, spread  # noqa: E402
from sqlalchemy import delete, insert, text, update  # noqa: E402

from api.worker import Worker  # noqa: E402
from engine.db import db, new_id, utcnow  # noqa: E402
from engine.models import Application, Assignment, AuditEvent, Notice, User  # noqa: E402

PEOPLE = 1000
CHUNK = 20_000


def load(app, size: int, due: int) -> list[str]:
    """Write the directory and `size` assignments; returns the ids of the due rows."""
    now = utcnow()
    apps = max(1, size // PEOPLE)
    with app.app_context():
        boss = new_id()
        people = [boss] + [new_id() for _ in range(PEOPLE)]
        db.session.execute(
            insert(User),
            [
                {
                    "id": pid,
                    "username": f"u{i:05d}",
                    "email": f"u{i}@example.com",
                    "manager_id": None if pid == boss else boss,
                }
                for i, pid in enumerate(people)
            ],
        )
        app_ids = [new_id() for _ in range(apps)]
        db.session.execute(
            insert(Application),
            [
                {"id": a, "key": f"a{j}", "name": f"A{j}", "kind": "sso"}
                for j, a in enumerate(app_ids)
            ],
        )
        db.session.commit()
        due_ids: list[str] = []
        write = _copier() if db.engine.dialect.name == "postgresql" else _inserter()
        next(write)
        for n in range(size):
            person, application = people[1 + n % PEOPLE], app_ids[n // PEOPLE % apps]
            assignment_id = new_id()
            ends_at, ended_at, key = None, None, assignment_id
            if n < 2 * due:  # due: half past their end, half within the reminder window
                ends_at = now - timedelta(hours=1) if n < due else now + timedelta(hours=20)
                due_ids.append(assignment_id)
            elif n % 10 == 1:  # ended long ago, end date in the past
                ends_at = ended_at = now - timedelta(days=200 + n % 100)
                key = None
            elif n % 10 == 2:  # active, ends in a few months
                ends_at = now + timedelta(days=30 + n % 300)
            write.send((assignment_id, person, application, key, ends_at, ended_at))
        write.close()
        db.session.commit()
        db.session.execute(text("ANALYZE"))
        db.session.commit()
    return due_ids


COLUMNS = ("id", "user_id", "application_id", "active_key", "ends_at", "ended_at")


def _row(values: tuple, long_ago) -> dict:
    row = dict(zip(COLUMNS, values, strict=True))
    row.update(source="request", created_at=long_ago, starts_at=long_ago)
    return row


def _inserter():
    """Receives row tuples; writes them with Core executemany, CHUNK at a time."""
    long_ago = utcnow() - timedelta(days=400)
    rows: list[dict] = []
    try:
        while True:
            rows.append(_row((yield), long_ago))
            if len(rows) == CHUNK:
                db.session.execute(insert(Assignment), rows)
                rows = []
    except GeneratorExit:
        if rows:
            db.session.execute(insert(Assignment), rows)


def _copier():
    """Receives row tuples; streams them into PostgreSQL with COPY (executemany is ~50x
    slower for a million rows)."""
    long_ago = utcnow() - timedelta(days=400)
    cursor = db.session.connection().connection.driver_connection.cursor()
    columns = ", ".join(COLUMNS + ("source", "created_at", "starts_at"))
    with cursor.copy(f"COPY assignments ({columns}) FROM STDIN") as copy:
        try:
            while True:
                copy.write_row((*(yield), "request", long_ago, long_ago))
        except GeneratorExit:
            pass


def reset(app, due_ids: list[str]) -> None:
    """Put the due rows back as they were before the scan (not timed)."""
    with app.app_context():
        for assignment_id in due_ids:
            db.session.execute(
                update(Assignment)
                .where(Assignment.id == assignment_id)
                .values(
                    ended_at=None,
                    ended_reason=None,
                    active_key=assignment_id,
                    reminder_days=None,
                    reminded_at=None,
                )
            )
        db.session.execute(delete(Notice))
        db.session.execute(delete(AuditEvent))
        db.session.commit()


def plan(app) -> str:
    """PostgreSQL's plan for the expiry scan's query (shows the index it reads)."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            rows = db.session.execute(
                text(
                    "EXPLAIN QUERY PLAN SELECT id FROM assignments WHERE ended_at IS NULL AND "
                    "ends_at IS NOT NULL AND ends_at <= :now ORDER BY ends_at LIMIT 200"
                ),
                {"now": utcnow()},
            ).all()
            return "; ".join(str(r[-1]) for r in rows)
        rows = db.session.execute(
            text(
                "EXPLAIN SELECT id FROM assignments WHERE ended_at IS NULL AND ends_at IS NOT NULL"
                " AND ends_at <= now() AT TIME ZONE 'UTC' ORDER BY ends_at LIMIT 200"
            )
        ).all()
        return "; ".join(r[0].strip() for r in rows)


def scan_seconds(app, due: int) -> tuple[float, float]:
    """(seconds of the poll with `due` to expire and to remind, seconds of the next, idle one)."""
    worker = Worker(app)
    started = time.perf_counter()
    ended, reminded = worker.expire_access()
    seconds = time.perf_counter() - started
    assert (ended, reminded) == (due, due), (ended, reminded)
    started = time.perf_counter()
    assert worker.expire_access() == (0, 0)
    return seconds, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--due", type=int, default=300)
    parser.add_argument("--database", default=",".join(DATABASES))
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    for kind in args.database.split(","):
        medians, idle_medians = {}, {}
        for size in sizes:
            with database_url(kind) as url:
                app = fresh_app(url)
                started = time.perf_counter()
                due_ids = load(app, size, args.due)
                print(f"{kind} {size:,}: loaded in {time.perf_counter() - started:.0f} s")
                print(f"  plan: {plan(app)}")
                times, idle = [], []
                for _ in range(args.rounds):
                    busy, quiet = scan_seconds(app, args.due)
                    times.append(busy)
                    idle.append(quiet * 1000)
                    reset(app, due_ids)
                medians[size] = statistics.median(times)
                idle_medians[size] = statistics.median(idle)
                print(
                    f"  scan ({args.due} expired + {args.due} reminded) s min/median/max: "
                    f"{spread(times)}; idle poll ms: {spread(idle)}"
                )
                with app.app_context():
                    db.engine.dispose()
        if len(sizes) > 1:
            small, big = sizes[0], sizes[-1]
            print(
                f"{kind}: median scan {big:,} / {small:,} rows = "
                f"{medians[big] / medians[small]:.2f}; idle poll "
                f"{idle_medians[big] / idle_medians[small]:.2f}"
            )


if __name__ == "__main__":
    main()
