"""A sync run of one connected application vs. bare paging of the same scim2-server target.

1. Starts scim2-server on loopback and loads N accounts into a tenant (not timed).
2. Sets up a database with N people, the connected app `wiki` and N assignments (not timed).
3. Times, in the same process and against the same target:
   - bare paging: a `requests` session GETting /Users page by page (100 a page), the floor;
   - the initial sync run (matches every account, links it: N account rows, log rows, report
     lines written);
   - steady-state sync runs (nothing to change: nothing is written anywhere).
4. Prints min/median/max of the rounds, the ratio against bare paging, the per-account cost, and
   the peak RSS of the process (ru_maxrss) after each phase: memory stays flat when a run's peak
   does not grow with N (compare sizes).

    .venv/bin/python benchmarks/sync.py --n 10000 --database sqlite --rounds 3
    .venv/bin/python benchmarks/sync.py --n 50000 --database postgresql --rounds 2
"""

import argparse
import resource
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.app import create_app, deploy_shipped_workflows  # noqa: E402
from benchmarks.common import database_url  # noqa: E402
from engine.db import db, new_id, utcnow  # noqa: E402
from engine.directory.importer import import_directory  # noqa: E402
from engine.directory.lookup import application_by_key  # noqa: E402
from engine.models import Assignment, User  # noqa: E402
from engine.models.lifecycle import active_key  # noqa: E402
from engine.sync import runner  # noqa: E402
from tests.scim_server import SCIM_TOKEN, ScimServerProcess  # noqa: E402

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
# What the SCIM connector sends: the bare client asks for the same answers.
HEADERS = {"Authorization": f"Bearer {SCIM_TOKEN}", "Content-Type": "application/scim+json",
           "Accept": "application/scim+json"}  # fmt: skip
PAGE = 100


def name(i: int) -> str:
    return f"user{i:06d}"


def load_target(base_url: str, n: int) -> None:
    session = requests.Session()
    session.headers.update(HEADERS)
    adapter = requests.adapters.HTTPAdapter(pool_maxsize=8)
    session.mount("http://", adapter)

    def post(i: int) -> None:
        resource_ = {
            "schemas": [USER_SCHEMA], "userName": name(i), "active": True,
            "displayName": f"User {i}", "name": {"givenName": "User", "familyName": f"N{i}"},
            "emails": [{"value": f"{name(i)}@example.com", "type": "work", "primary": True}],
        }  # fmt: skip
        answer = session.post(base_url + "/Users", json=resource_, timeout=30)
        assert answer.status_code == 201, answer.text

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(post, range(n)))


def load_database(app, n: int, base_url: str) -> None:
    with app.app_context():
        db.create_all()
        deploy_shipped_workflows()
        import_directory({
            "users": [{"username": "root"}],
            "applications": [{"key": "wiki", "name": "Wiki", "kind": "connected",
                              "connector": {"type": "scim", "base_url": base_url,
                                            "token": SCIM_TOKEN, "timeout": 60}}],
        })  # fmt: skip
        db.session.commit()
        wiki = application_by_key("wiki").id
        now = utcnow()
        for start in range(0, n, 5000):
            people = [
                {"id": new_id(), "username": name(i), "email": f"{name(i)}@example.com",
                 "display_name": f"User {i}", "first_name": "User", "last_name": f"N{i}",
                 "active": True, "created_at": now, "session_version": 1}
                for i in range(start, min(n, start + 5000))
            ]  # fmt: skip
            db.session.execute(insert(User), people)
            db.session.execute(insert(Assignment), [
                {"id": new_id(), "user_id": p["id"], "application_id": wiki, "source": "admin",
                 "active_key": active_key(p["id"], wiki, "admin", None), "created_at": now,
                 "starts_at": now, "reason": "bench"}
                for p in people
            ])  # fmt: skip
            db.session.commit()
        db.session.remove()


def bare_paging(base_url: str, n: int) -> float:
    session = requests.Session()
    session.headers.update(HEADERS)
    started, start, seen = time.perf_counter(), 1, 0
    while True:
        body = session.get(base_url + "/Users", params={"startIndex": start, "count": PAGE},
                           timeout=60).json()  # fmt: skip
        page = body.get("Resources") or []
        seen += len(page)
        start += len(page)
        if not page or start > body["totalResults"]:
            break
    assert seen == n, seen
    return time.perf_counter() - started


class OwnWork:
    """Seconds a run spends judging pages (its database work, the target not counted): wraps
    the runner's page step, so the target's own paging cost can be told apart."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._plan = runner.plan_page
        runner.plan_page = self._timed

    def _timed(self, ctx, accounts):
        started = time.perf_counter()
        try:
            return self._plan(ctx, accounts)
        finally:
            self.seconds += time.perf_counter() - started


OWN = OwnWork()


def sync_run(app, n: int, expect: str) -> float:
    OWN.seconds = 0.0
    with app.app_context():
        started = time.perf_counter()
        run = runner.sync_now("wiki", False, "bench")
        elapsed = time.perf_counter() - started
        counts = run.counts
        db.session.remove()
    assert run.status == "succeeded" and counts["read"] == n and counts["matched"] == n, counts
    if expect == "linked":
        assert counts["linked"] == n, counts
    if expect == "nothing":
        assert all(counts[k] == 0 for k in ("linked", "updated", "created", "disabled")), counts
    return elapsed


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def spread(values: list[float]) -> str:
    return (
        f"min {min(values):7.2f}  median {statistics.median(values):7.2f}  max {max(values):7.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10000, help="accounts and assignments")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of bare and steady runs")
    args = parser.parse_args()
    n = args.n
    with ScimServerProcess(dynamic_tenants=True) as server, database_url(args.database) as url:
        base_url = server.tenant_url("bench")
        t0 = time.perf_counter()
        load_target(base_url, n)
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
        load_database(app, n, base_url)
        print(f"setup: {n} accounts and assignments in {time.perf_counter() - t0:.0f} s; "
              f"peak RSS {rss_mb():.0f} MB")  # fmt: skip
        bare = [bare_paging(base_url, n)]
        print(f"peak RSS after bare paging: {rss_mb():.0f} MB")
        initial = sync_run(app, n, "linked")
        initial_own = OWN.seconds
        print(f"peak RSS after the initial sync: {rss_mb():.0f} MB")
        steady, steady_own = [], []
        for _ in range(args.rounds):  # interleaved, so both see the server in the same state
            steady.append(sync_run(app, n, "nothing"))
            steady_own.append(OWN.seconds)
            bare.append(bare_paging(base_url, n))
        print(f"peak RSS after the steady runs: {rss_mb():.0f} MB")
        with app.app_context():
            db.engine.dispose()
    median = statistics.median(bare)
    print(f"\n{n} accounts, {args.database}, pages of {PAGE}")
    print(f"bare paging (GET /Users)        s: {spread(bare)}")
    print(f"initial sync (links all)        s: {initial:7.2f}  ratio {initial / median:5.2f}x  "
          f"{1e6 * initial / n:6.0f} us/account")  # fmt: skip
    print(f"steady sync (nothing to change) s: {spread(steady)}  ratio "
          f"{statistics.median(steady) / median:5.2f}x  "
          f"{1e6 * statistics.median(steady) / n:6.0f} us/account")  # fmt: skip
    print(f"bare paging                            {1e6 * median / n:6.0f} us/account")
    print(f"own work (judging pages, no target): initial {1e6 * initial_own / n:6.0f} us/account,"
          f" steady {1e6 * statistics.median(steady_own) / n:6.0f} us/account")  # fmt: skip


if __name__ == "__main__":
    main()
