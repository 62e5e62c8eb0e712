"""Browser-test plumbing: the real `accessflow serve` on loopback and headless Debian Chromium."""

import copy
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import DIRECTORY

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
BIN = Path(sys.executable).parent


def password_of(username: str) -> str:
    return f"{username}-browser-pw"


def browser_directory() -> dict:
    """The test directory, with a password for everyone so each person can log in."""
    directory = copy.deepcopy(DIRECTORY)
    for user in directory["users"]:
        user["password"] = password_of(user["username"])
    return directory


def require_chromium() -> None:
    """Skip without Chromium on a developer machine; in CI a missing browser is a failure."""
    if Path(CHROMIUM).exists():
        return
    reason = f"{CHROMIUM} is missing: install Debian's chromium (bash scripts/setup.sh does)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`accessflow init`, `import` and `serve` (gunicorn) on a fresh SQLite file in `home`.

    `seed` is a folder holding an already initialised and imported database to start from:
    copying it is much faster than running init and import for every test.
    """

    def __init__(self, home: Path, directory: dict, seed: Path | None = None):
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database_url = f"sqlite:///{home / 'accessflow.db'}"
        self.env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "ACCESSFLOW_HOME": str(home),
            "ACCESSFLOW_SECRET_KEY": os.urandom(16).hex(),
        }
        (home / "directory.json").write_text(json.dumps(directory))
        self.seed = seed
        self.process = None

    def _run(self, *args) -> None:
        subprocess.run(
            [str(BIN / "accessflow"), *args], env=self.env, check=True, capture_output=True
        )

    def prepare(self) -> "Server":
        """Create the schema, deploy the shipped workflows and load the directory."""
        if self.seed is not None:
            for path in self.seed.glob("accessflow.db*"):
                shutil.copy(path, self.home / path.name)
            return self
        self._run("init")
        self._run("import", str(self.home / "directory.json"))
        return self

    def start(self) -> "Server":
        self.prepare()
        self.log = open(self.home / "serve.log", "wb")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            [str(BIN / "accessflow"), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"accessflow serve exited: {self.logs()}")
            try:
                with urllib.request.urlopen(f"{self.url}/login", timeout=2) as answer:
                    if answer.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"accessflow serve did not answer: {self.logs()}")

    def logs(self) -> str:
        return (self.home / "serve.log").read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # gunicorn's quick shutdown
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if self.process is not None:
            self.log.close()

    @contextmanager
    def engine(self):
        """An app context on the server's database, to set the scene through service functions."""
        from api.app import create_app

        app = create_app({"SQLALCHEMY_DATABASE_URI": self.database_url, "SECRET_KEY": "scene"})
        with app.app_context():
            from engine.db import db

            try:
                yield app
            finally:
                db.session.remove()
                db.engine.dispose()


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def login(browser, server: Server, username: str, viewport=None, password=None):
    """A fresh browser context (its own cookies) logged in as `username`; returns its page."""
    context = browser.new_context(viewport=viewport or {"width": 1280, "height": 860})
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto(f"{server.url}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password or password_of(username))
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/login" not in url)
    return page


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium for the whole session; each login gets its own context."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    browser = launch_chromium(playwright)
    yield browser
    browser.close()
    playwright.stop()


@pytest.fixture(scope="session")
def seeded_database(tmp_path_factory):
    """`accessflow init` and `accessflow import` run once; each test serves a copy."""
    home = tmp_path_factory.mktemp("seed")
    Server(home, browser_directory()).prepare()
    return home


@pytest.fixture
def server(tmp_path, seeded_database):
    """A fresh accessflow (SQLite, test directory) served by gunicorn on a free loopback port."""
    running = Server(tmp_path, browser_directory(), seed=seeded_database).start()
    yield running
    running.stop()


@pytest.fixture
def log_in(chromium, server):
    """log_in("alice") -> a page of a fresh browser context logged in as alice."""
    return lambda username, **kwargs: login(chromium, server, username, **kwargs)
