"""The real thing: `accessflow init`, `import` and `serve` (gunicorn) in a subprocess on a free
loopback port, one server per database for the whole test session."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import DIRECTORY, _postgres_database

ACCESSFLOW = str(Path(sys.executable).parent / "accessflow")
# Twenty more fulfillers, for a crowd claiming one task at once.
CROWD = [f"crowd{n:02d}" for n in range(20)]
SERVED_DIRECTORY = {
    "users": DIRECTORY["users"]
    + [{"username": name, "email": f"{name}@example.com", "manager": "mark"} for name in CROWD],
    "groups": DIRECTORY["groups"] + [{"name": "erp-fulfillers", "members": CROWD}],
    "applications": DIRECTORY["applications"]
    + [
        {
            "key": "erp",
            "name": "ERP",
            "kind": "disconnected",
            "approver_group": "crm-approvers",
            "fulfiller_group": "erp-fulfillers",
        }
    ],
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A served accessflow; `as_(name)` is a requests.Session carrying that person's token."""

    def __init__(self, home: Path, database_url: str):
        self.home, self.database_url = home, database_url
        self.env = {**os.environ, "DATABASE_URL": database_url, "ACCESSFLOW_HOME": str(home)}
        self.url = f"http://127.0.0.1:{free_port()}"
        self.process = None
        self._tokens = {}

    def cli(self, *args) -> str:
        done = subprocess.run(
            [ACCESSFLOW, *args], env=self.env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def start(self) -> "Server":
        directory = self.home / "directory.json"
        directory.write_text(json.dumps(SERVED_DIRECTORY))
        self.cli("init")
        self.cli("import", str(directory))
        host, port = self.url.removeprefix("http://").split(":")
        self.log = open(self.home / "server.log", "w")  # noqa: SIM115
        self.process = subprocess.Popen(
            [ACCESSFLOW, "serve", "--host", host, "--port", port, "--workers", "2"],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.server_log()
            try:
                if requests.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except (requests.ConnectionError, requests.Timeout):  # a loaded machine: slow start
                time.sleep(0.2)
        raise AssertionError("the server did not come up:\n" + self.server_log())

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.log.close()

    def server_log(self) -> str:
        return (self.home / "server.log").read_text()

    def token(self, username: str) -> str:
        if username not in self._tokens:
            self._tokens[username] = self.cli("token", username)
        return self._tokens[username]

    def tokens_in_process(self, usernames) -> dict:
        """Many tokens at once through the engine (the CLI starts Python once per token)."""
        from api.app import create_app
        from engine.db import db
        from engine.directory.tokens import issue_token
        from engine.unit_of_work import unit_of_work

        app = create_app({"SQLALCHEMY_DATABASE_URI": self.database_url, "SECRET_KEY": "x"})
        with app.app_context():
            with unit_of_work():
                tokens = {name: issue_token(name) for name in usernames}
            db.session.remove()
            db.engine.dispose()
        return tokens

    def as_(self, username: str, token: str | None = None) -> "HttpCaller":
        return HttpCaller(self.url, token or self.token(username))


class HttpCaller:
    """One person talking to the served API over a kept-alive HTTP connection."""

    def __init__(self, base_url: str, token: str):
        self.base_url, self.session = base_url, requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.session.request(method, self.base_url + path, timeout=30, **kwargs)

    def get(self, path, **kwargs):
        return self.call("GET", path, **kwargs)

    def post(self, path, json=None, **kwargs):
        return self.call("POST", path, json=json, **kwargs)

    def task_on(self, item_id: str) -> dict:
        """The caller's open task on an item, found in their inbox."""
        inbox = self.get("/api/v1/tasks").json()["items"]
        return next(t for t in inbox if t["item"] == item_id)


def _serve(home: Path, database_url: str):
    server = Server(home, database_url)
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def served_sqlite(tmp_path_factory):
    home = tmp_path_factory.mktemp("served-sqlite")
    yield from _serve(home, f"sqlite:///{home / 'accessflow.db'}")


@pytest.fixture(scope="session")
def served_postgres(tmp_path_factory):
    admin, created = _postgres_database()
    if admin is None:
        pytest.skip("no PostgreSQL at 127.0.0.1:5432")
    name, url = created
    try:
        yield from _serve(tmp_path_factory.mktemp("served-postgres"), url)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(params=["sqlite", "postgres"])
def served(request):
    """The served app on each database in turn."""
    return request.getfixturevalue(f"served_{request.param}")
