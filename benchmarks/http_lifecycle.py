"""Full access-request lifecycles over HTTP against `accessflow serve` (gunicorn) on PostgreSQL.

The server runs in its own processes; this script is the client: several threads, each with
kept-alive connections, each doing the whole life of one item after another:

  requester: POST /cart/items, POST /cart/submit
  manager:   GET /tasks, POST /tasks/{id}/complete
  approver:  GET /tasks, POST /tasks/{id}/complete
  fulfiller: GET /tasks, POST /tasks/{id}/claim, POST /tasks/{id}/complete (account id)
  requester: GET /items/{id}  (must be "fulfilled")

Prints lifecycles/s, p50 and p99 latency per call and overall, and the error count.

    .venv/bin/python benchmarks/http_lifecycle.py --clients 8 --seconds 30

ACCESSFLOW_BENCH_PG (default postgresql://postgres@127.0.0.1:5432/test) names a server where the
script may create and drop a scratch database.
"""

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path

import psycopg

ACCESSFLOW = str(Path(sys.executable).parent / "accessflow")
PG_ADMIN_URL = os.environ.get("ACCESSFLOW_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")


def directory(clients: int) -> dict:
    """Per client a requester (with a manager) and one application with its own approver and
    fulfiller, so inboxes stay as small as in a real team."""
    users, groups, apps = [], [], []
    for n in range(clients):
        users += [
            {"username": f"manager{n}"},
            {"username": f"requester{n}", "manager": f"manager{n}"},
            {"username": f"approver{n}"},
            {"username": f"fulfiller{n}"},
        ]
        groups += [
            {"name": f"approvers{n}", "members": [f"approver{n}"]},
            {"name": f"fulfillers{n}", "members": [f"fulfiller{n}"]},
        ]
        apps.append(
            {
                "key": f"app{n}",
                "name": f"App {n}",
                "kind": "disconnected",
                "approver_group": f"approvers{n}",
                "fulfiller_group": f"fulfillers{n}",
            }
        )
    return {"users": users, "groups": groups, "applications": apps}


class Client:
    """One HTTP/1.1 keep-alive connection; records each call's latency under its name."""

    def __init__(self, port: int, tokens: dict, timings: dict, errors: list):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.tokens, self.timings, self.errors = tokens, timings, errors

    def call(self, name, who, method, path, body=None, expect=200):
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        payload = None
        if body is not None:
            payload = json.dumps(body)
            headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        self.conn.request(method, path, body=payload, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        self.timings[name].append(time.perf_counter() - started)
        if response.status != expect:
            self.errors.append(f"{name}: {response.status} {data[:200]!r}")
            raise RuntimeError(name)
        return json.loads(data) if data else None

    def task_on(self, who, item_id):
        for task in self.call("GET /tasks", who, "GET", "/api/v1/tasks")["items"]:
            if task["item"] == item_id:
                return task["id"]
        self.errors.append(f"no task for {who} on {item_id}")
        raise RuntimeError("task missing")

    def lifecycle(self, n: int) -> None:
        requester, line = f"requester{n}", {"application": f"app{n}", "justification": "bench"}
        self.call("POST /cart/items", requester, "POST", "/api/v1/cart/items", line, 201)
        item = self.call("POST /cart/submit", requester, "POST", "/api/v1/cart/submit", None, 201)
        item_id = item["items"][0]["id"]
        for who in (f"manager{n}", f"approver{n}"):
            task = self.task_on(who, item_id)
            self.call("POST complete (approve)", who, "POST",
                      f"/api/v1/tasks/{task}/complete", {"decision": "approve"})  # fmt: skip
        fulfiller = f"fulfiller{n}"
        task = self.task_on(fulfiller, item_id)
        self.call("POST claim", fulfiller, "POST", f"/api/v1/tasks/{task}/claim")
        done = {"decision": "approve", "account_id": f"ACC-{item_id[:8]}"}
        self.call("POST complete (fulfil)", fulfiller, "POST",
                  f"/api/v1/tasks/{task}/complete", done)  # fmt: skip
        final = self.call("GET /items/{id}", requester, "GET", f"/api/v1/items/{item_id}")
        if final["status"] != "fulfilled":
            self.errors.append(f"item ended {final['status']}")


def server_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of the gunicorn master and its workers, from /proc."""
    pids = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                pids.append(int(entry.name))
    total = 0
    for each in pids:
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def run_clients(port, tokens, clients, seconds, warmup, server_pid):
    timings, errors, done = defaultdict(list), [], [0] * clients
    measuring = threading.Event()
    stop = time.monotonic() + warmup + seconds

    def worker(n):
        client = Client(port, tokens, timings, errors)
        while time.monotonic() < stop:
            try:
                client.lifecycle(n)
            except (RuntimeError, OSError, http.client.HTTPException) as err:
                errors.append(f"client {n}: {err!r}")
                client.conn.close()
                continue
            if measuring.is_set():
                done[n] += 1

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(warmup)
    timings.clear()
    errors.clear()
    measuring.set()
    started, cpu = time.monotonic(), server_cpu_seconds(server_pid)
    for thread in threads:
        thread.join()
    cpu = server_cpu_seconds(server_pid) - cpu
    return sum(done), time.monotonic() - started, timings, errors, cpu


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def report(lifecycles, elapsed, timings, errors, cpu, clients):
    every = [t for values in timings.values() for t in values]
    print(f"clients: {clients}, measured {elapsed:.1f} s; load average {os.getloadavg()[0]:.1f}")
    if lifecycles:
        print(f"server CPU per lifecycle: {cpu / lifecycles * 1000:.0f} ms (gunicorn, all workers)")
    print(f"lifecycles: {lifecycles} -> {lifecycles / elapsed:.1f} lifecycles/s")
    print(f"calls: {len(every)} -> {len(every) / elapsed:.0f} calls/s; errors: {len(errors)}")
    print(f"{'call':28} {'n':>7} {'p50 ms':>8} {'p99 ms':>8}")
    for name, values in sorted(timings.items()):
        p50, p99 = statistics.median(values) * 1000, percentile(values, 0.99) * 1000
        print(f"{name:28} {len(values):7d} {p50:8.1f} {p99:8.1f}")
    p50, p99 = statistics.median(every) * 1000, percentile(every, 0.99) * 1000
    print(f"{'all calls':28} {len(every):7d} {p50:8.1f} {p99:8.1f}")
    for error in errors[:5]:
        print("error:", error)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    args = parser.parse_args()

    name = f"accessflow_bench_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(PG_ADMIN_URL, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    home = Path(tempfile.mkdtemp(prefix="accessflow-bench-"))
    env = {**os.environ, "DATABASE_URL": f"{base}/{name}", "ACCESSFLOW_HOME": str(home)}
    server = None
    try:

        def cli(*argv):
            return subprocess.run(
                [ACCESSFLOW, *argv], env=env, check=True, capture_output=True, text=True
            ).stdout.strip()

        (home / "directory.json").write_text(json.dumps(directory(args.clients)))
        cli("init")
        cli("import", str(home / "directory.json"))
        tokens = _tokens(env["DATABASE_URL"], directory(args.clients))
        port = free_port()
        server = subprocess.Popen(
            [ACCESSFLOW, "serve", "--port", str(port), "--workers", str(args.workers)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_healthy(port)
        results = run_clients(port, tokens, args.clients, args.seconds, args.warmup, server.pid)
        report(*results, args.clients)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _tokens(database_url, people) -> dict:
    """Issue every benchmark user a token in one Python process (not one CLI run each)."""
    from api.app import create_app
    from engine.db import db
    from engine.directory.tokens import issue_token

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "bench"})
    with app.app_context():
        tokens = {u["username"]: issue_token(u["username"]) for u in people["users"]}
        db.session.remove()
        db.engine.dispose()
    return tokens


def _wait_healthy(port):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not come up")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
