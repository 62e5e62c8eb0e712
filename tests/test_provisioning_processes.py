"""Nothing lost: the real `accessflow worker` as separate processes, a real scim2-server.

Each story sets a deployment up the way an operator does (`accessflow init`, `accessflow
import`), approves items through the service functions, then starts, stops and kills workers.
"""

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import func, select

from api.app import create_app
from engine.db import db
from engine.directory.lookup import user_by_username
from engine.models import Account, ProvisioningJob, ProvisioningLog, RequestItem
from tests import scim_server as server_plugin
from tests.conftest import DIRECTORY, PG_ADMIN_URL
from tests.flow import decide, open_task
from tests.provisioning_support import FaultProxy, scim_users
from tests.scim_server import SCIM_TOKEN, ScimServerProcess, free_port

ACCESSFLOW = str(Path(sys.executable).with_name("accessflow"))
scim_server_process = server_plugin.scim_server_process
scim_server = server_plugin.scim_server
pytestmark = pytest.mark.processes  # every test runs the CLI and worker processes


class Deployment:
    """A database set up by the CLI, an in-process view of it, and worker processes."""

    def __init__(self, tmp_path, database_url, connector, extra_users=0):
        self.tmp_path = tmp_path
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "ACCESSFLOW_HOME": str(tmp_path),
            "ACCESSFLOW_SMTP_PORT": str(free_port()),  # nobody listens: mail is logged, not sent
        }
        directory = json.loads(json.dumps(DIRECTORY))
        directory["users"] += [
            {"username": f"user{n:02d}", "email": f"user{n:02d}@example.com", "manager": "mark"}
            for n in range(extra_users)
        ]
        wiki = next(a for a in directory["applications"] if a["key"] == "wiki")
        wiki["connector"] = {"type": "scim", "token": SCIM_TOKEN, "timeout": 5, **connector}
        path = tmp_path / "directory.json"
        path.write_text(json.dumps(directory))
        for args in (("init",), ("import", str(path))):
            done = self.run(*args)
            assert done.returncode == 0, done.stderr
        self.app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "t"})
        self.workers: dict[str, subprocess.Popen] = {}

    def run(self, *args):
        return subprocess.run(
            [ACCESSFLOW, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=self.tmp_path,
        )

    def start_worker(self, worker_id, *args):
        log = open(self.tmp_path / f"{worker_id}.log", "wb")  # noqa: SIM115 (closed by the process end)
        self.workers[worker_id] = subprocess.Popen(
            [ACCESSFLOW, "worker", "--id", worker_id, "--interval", "0.2", *args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.tmp_path,
        )
        return self.workers[worker_id]

    def worker_log(self, worker_id) -> str:
        return (self.tmp_path / f"{worker_id}.log").read_text(errors="replace")

    def stop_workers(self):
        for process in self.workers.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        return {wid: p.wait(timeout=20) for wid, p in self.workers.items()}

    def approve(self, *beneficiaries) -> list[str]:
        """Items for wiki, requested by alice and approved by mark and gina; their ids."""
        from engine.requests import cart

        with self.app.app_context():
            alice = user_by_username("alice")
            for name in beneficiaries:
                cart.add_to_cart(alice, "wiki", name)
            items = cart.submit_cart(alice).items
            for item in items:
                decide(user_by_username("mark"), item)
                decide(user_by_username("gina"), item)
            assert {i.status for i in items} == {"provisioning"}
            ids = [i.id for i in items]
            db.session.remove()
        return ids

    def query(self, statement):
        with self.app.app_context():
            try:
                return db.session.execute(statement).all()
            finally:
                db.session.remove()

    def statuses(self, ids) -> list[str]:
        rows = dict(self.query(select(RequestItem.id, RequestItem.status)))
        return [rows[i] for i in ids]

    def wait_until(self, condition, timeout=30.0, what="condition"):
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                logs = {wid: self.worker_log(wid)[-3000:] for wid in self.workers}
                raise AssertionError(f"timed out waiting for {what}; worker logs: {logs}")
            time.sleep(0.1)

    def close(self):
        for process in self.workers.values():
            if process.poll() is None:
                process.kill()
                process.wait()
        with self.app.app_context():
            db.engine.dispose()


@pytest.fixture
def deploy(tmp_path):
    made = []

    def deploy(database_url=None, **kwargs):
        url = database_url or f"sqlite:///{tmp_path / 'accessflow.db'}"
        made.append(Deployment(tmp_path, url, **kwargs))
        return made[-1]

    yield deploy
    for deployment in made:
        deployment.close()


@pytest.fixture
def fresh_postgres():
    """An empty PostgreSQL database of its own (workers and init need a clean schema)."""
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("no PostgreSQL at 127.0.0.1:5432")
    name = f"accessflow_workers_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    yield f"{base}/{name}"
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def test_the_worker_provisions_once_the_target_comes_back(deploy):
    target = ScimServerProcess(port=free_port())  # not started: the target is down
    site = deploy(
        connector={
            "base_url": target.base_url,
            "max_attempts": 50,
            "backoff_base_seconds": 0.1,
            "backoff_max_seconds": 0.4,
            "quarantine_window": 0,
        }
    )
    [item_id] = site.approve("alice")
    site.start_worker("w1")
    failures = select(func.count()).where(ProvisioningLog.outcome == "retrying")
    site.wait_until(lambda: site.query(failures)[0][0] >= 2, what="two failed attempts")
    assert site.statuses([item_id]) == ["provisioning"]

    with target:
        site.wait_until(lambda: site.statuses([item_id]) == ["fulfilled"], what="fulfilled")
        [user] = scim_users(target.base_url)

    assert (user["userName"], user["name"]["familyName"]) == ("alice", "Archer")
    assert user["emails"][0]["value"] == "alice@example.com"
    [(attempts, status)] = site.query(select(ProvisioningJob.attempts, ProvisioningJob.status))
    assert status == "succeeded" and attempts >= 3
    assert site.stop_workers() == {"w1": 0}  # SIGTERM: a clean stop
    assert SCIM_TOKEN not in site.worker_log("w1")
    assert "retrying" in site.worker_log("w1") and "created" in site.worker_log("w1")


def test_a_killed_workers_job_is_finished_by_another_with_exactly_one_account(deploy, scim_server):
    with FaultProxy(scim_server) as proxy:
        proxy.lose_answer("POST", hold=True)  # the account is created; the answer never comes
        site = deploy(connector={"base_url": proxy.base_url})
        [item_id] = site.approve("alice")
        doomed = site.start_worker("doomed", "--lease-seconds", "2")
        assert proxy.held.wait(30), site.worker_log("doomed")
        site.start_worker("rescuer", "--lease-seconds", "2")
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(10)
        proxy.release()

        site.wait_until(lambda: site.statuses([item_id]) == ["fulfilled"], what="fulfilled")

    [user] = scim_users(scim_server)
    [(attempts, owner)] = site.query(select(ProvisioningJob.attempts, ProvisioningJob.lease_owner))
    assert (attempts, owner) == (2, None)
    entries = site.query(select(ProvisioningLog.worker, ProvisioningLog.outcome))
    assert entries == [("rescuer", "linked")]
    accounts = site.query(select(Account.external_id))
    assert accounts == [(user["id"],)]


def test_two_workers_on_postgresql_never_run_a_job_twice(deploy, scim_server, fresh_postgres):
    # Each thread takes one job at a time and each call takes 0.2 s: one worker alone would need
    # seconds for the 24 jobs, so both get work whichever polls first; the point of the test is
    # that no job runs twice while they race.
    with FaultProxy(scim_server, delay=0.2) as proxy:
        site = deploy(fresh_postgres, connector={"base_url": proxy.base_url}, extra_users=24)
        for worker_id in ("w1", "w2"):
            site.start_worker(worker_id, "--threads", "2", "--batch", "1")
        names = [f"user{n:02d}" for n in range(24)]
        ids = site.approve(*names)

        site.wait_until(
            lambda: set(site.statuses(ids)) == {"fulfilled"}, timeout=60, what="all fulfilled"
        )

    assert sorted(u["userName"] for u in scim_users(scim_server)) == names
    jobs = site.query(select(ProvisioningJob.attempts, ProvisioningJob.status))
    assert jobs == [(1, "succeeded")] * 24
    entries = site.query(
        select(ProvisioningLog.job_id, ProvisioningLog.outcome, ProvisioningLog.worker)
    )
    assert len(entries) == 24 and len({job for job, _, _ in entries}) == 24
    assert {outcome for _, outcome, _ in entries} == {"created"}
    assert {worker for _, _, worker in entries} == {"w1", "w2"}  # the work was shared
    assert site.stop_workers() == {"w1": 0, "w2": 0}


def test_app_test_reports_the_connection_without_the_token(deploy, scim_server):
    site = deploy(connector={"base_url": scim_server})
    tested = site.run("app", "test", "wiki")
    assert tested.returncode == 0, tested.stderr
    assert "wiki: connection ok" in tested.stdout and "patch: True" in tested.stdout
    assert SCIM_TOKEN not in tested.stdout + tested.stderr

    broken = deploy(connector={"base_url": f"http://127.0.0.1:{free_port()}/v2"})
    failed = broken.run("app", "test", "wiki")
    assert failed.returncode != 0 and failed.stdout == ""
    assert "connection to wiki failed" in failed.stderr and "connection failed" in failed.stderr
    assert SCIM_TOKEN not in failed.stderr
    assert broken.run("app", "test", "crm").returncode != 0  # disconnected: nothing to test


def test_failed_task_retry_through_the_worker_process(deploy, scim_server):
    """500 until the retries run out, then a fulfiller retries from the task: one account."""
    with FaultProxy(scim_server) as proxy:
        proxy.fail_with(500)
        site = deploy(
            connector={"base_url": proxy.base_url, "max_attempts": 2, "backoff_base_seconds": 0.05}
        )
        [item_id] = site.approve("bob")
        site.start_worker("w1")
        site.wait_until(lambda: site.statuses([item_id]) == ["failed"], what="failed")
        proxy.heal()
        with site.app.app_context():
            item = db.session.get(RequestItem, item_id)
            task = open_task(item)
            assert task.kind == "failed_provisioning"
            decide(user_by_username("fred"), item, "retry")
            db.session.remove()
        site.wait_until(lambda: site.statuses([item_id]) == ["fulfilled"], what="fulfilled")
    assert [u["userName"] for u in scim_users(scim_server)] == ["bob"]
