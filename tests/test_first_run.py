"""A newcomer's first hour: the README's commands, the demo's users and mails, a quiet worker
log, a package that installs its data, and an API docs page a person can read."""

import html
import json
import logging
import re
import shutil
import subprocess
import sys
import threading
import time
import zipfile
from importlib.metadata import requires
from pathlib import Path

import pytest

from api.app import create_app
from api.mail_catcher import start_mail_catcher
from api.worker import Worker
from engine.audit.notifications import Mailer
from tests.provisioning_support import approved_wiki_item, connect_wiki
from tests.scim_server import free_port, scim_server, scim_server_process  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
DEMO_DIRECTORY = json.loads((ROOT / "demo/directory.json").read_text())
DEMO_USERS = [user["username"] for user in DEMO_DIRECTORY["users"]]
ROLES = ["Requester", "Colleagues", "Manager", "Approver", "Fulfillers", "Admin", "Designer"]


def text_of(page: str) -> str:
    """What a reader sees: blocks and cells apart, inline tags dropped, white space collapsed."""
    blocks = re.sub(r"</?(p|div|h\d|section|table|thead|tbody|tr|td|th)\b[^>]*>", " ", page)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", blocks)).split())


def bare_app(tmp_path, **config):
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'accessflow.db'}",
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            **config,
        }
    )


# README and scripts


def test_readme_opens_with_the_two_commands():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert lines[3].startswith("bash scripts/demo.sh")
    assert lines[4].startswith("bash scripts/test.sh")


def test_readme_activates_the_venv_before_calling_accessflow():
    readme = (ROOT / "README.md").read_text()
    assert readme.index("source .venv/bin/activate") < readme.index("accessflow token alice")
    assert ".venv/bin/accessflow" in readme


def test_readme_shows_who_is_who_among_the_demo_users():
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("| user | role |") :].split("\n\n", 1)[0]
    for username in DEMO_USERS:
        assert f"`{username}`" in table, username
    for role in ROLES:
        assert role.lower() in table.lower(), role


def test_readme_and_demo_script_say_where_the_mails_go():
    readme = (ROOT / "README.md").read_text()
    demo = (ROOT / "scripts/demo.sh").read_text()
    assert "instance/mail.txt" in readme
    assert 'accessflow mail-catcher --port "$MAIL_PORT"' in demo
    assert 'ACCESSFLOW_SMTP_PORT="$MAIL_PORT"' in demo
    assert re.search(r'echo ".*Mails sent: \$ACCESSFLOW_HOME/mail.txt', demo)
    assert "export ACCESSFLOW_DEMO=1" in demo


def test_setup_script_announces_each_step():
    setup = (ROOT / "scripts/setup.sh").read_text()
    for step in ("Python packages", "npm packages", "chromium"):
        assert re.search(rf'step "[^"]*{step}', setup), step


# The demo's login page


def test_only_the_demo_login_page_lists_the_demo_users_with_their_roles(tmp_path):
    page = bare_app(tmp_path, DEMO=True).test_client().get("/login")
    assert page.status_code == 200
    table = text_of(page.text.split('id="demo-users-title"', 1)[1])
    assert "password is demo" in table
    for username in DEMO_USERS:
        assert re.search(rf"\b{username}\b", table), username
    for role in ROLES:
        assert role in table, role

    production = bare_app(tmp_path).test_client().get("/login")
    assert production.status_code == 200
    assert "Demo users" not in production.text and "gina" not in production.text


# The mail catcher


def test_demo_mail_server_keeps_every_mail_readable_in_one_file(tmp_path):
    port = free_port()
    mails = tmp_path / "mail" / "mail.txt"
    catcher = start_mail_catcher(mails, port=port)
    try:
        mailer = Mailer(port=port)
        assert mailer.send(["it@example.com"], "[accessflow] Failed auto-provision", "Error: x\n")
        assert mailer.send(["root@example.com"], "[accessflow] Wiki is quarantined", "paused\n")
    finally:
        catcher.stop()
    text = mails.read_text()
    assert text.count("Subject: [accessflow]") == 2
    assert "To: it@example.com" in text and "Error: x" in text
    assert "To: root@example.com" in text and "paused" in text


def test_mail_catcher_command_runs_until_stopped(tmp_path):
    port = free_port()
    mails = tmp_path / "mail.txt"
    command = [str(Path(sys.executable).parent / "accessflow"), "mail-catcher"]
    catcher = subprocess.Popen(
        [*command, "--port", str(port), "--file", str(mails)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert f"mail catcher on 127.0.0.1:{port}" in catcher.stdout.readline()
        assert Mailer(port=port).send(["it@example.com"], "hello from the worker", "body\n")
    finally:
        catcher.terminate()
        assert catcher.wait(timeout=10) == 0
    assert "Subject: hello from the worker" in mails.read_text()


def test_the_mail_server_is_installed_with_accessflow():
    runtime = [r for r in requires("accessflow") if "extra ==" not in r]
    assert any(r.startswith("aiosmtpd") for r in runtime)


# The worker's log


def serve_briefly(worker: Worker, until, timeout: float = 15.0) -> list[int]:
    """Run the worker's scheduler (polling every 50 ms) until `until(polls)`; the counts of its
    provisioning polls (its access-change and timer jobs run alongside)."""
    polls = []
    run_jobs = worker.run_jobs
    worker.run_jobs = lambda: polls.append(run_jobs())
    scheduler = worker.scheduler(interval=0.05)
    thread = threading.Thread(target=scheduler.start)
    thread.start()
    deadline = time.monotonic() + timeout
    while not until(polls) and time.monotonic() < deadline:
        time.sleep(0.05)
    scheduler.shutdown()
    thread.join(timeout=10)
    return polls


def info_lines(caplog) -> list[str]:
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno < logging.WARNING]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_idle_worker_logs_nothing_not_even_the_scheduler(app, caplog):
    caplog.set_level(logging.INFO)
    polls = serve_briefly(Worker(app), until=lambda polls: len(polls) >= 3)
    assert len(polls) >= 3 and set(polls) == {0}
    assert info_lines(caplog) == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_worker_logs_the_jobs_it_ran_and_nothing_of_its_libraries(
    app,
    people,
    scim_server,  # noqa: F811
    caplog,
):
    connect_wiki(scim_server)
    approved_wiki_item(people)
    caplog.set_level(logging.INFO)
    polls = serve_briefly(Worker(app, worker_id="w1"), until=lambda polls: 1 in polls)
    assert 1 in polls
    lines = info_lines(caplog)
    # The workflow moved on, the scheduler polled, yet SpiffWorkflow and APScheduler are quiet:
    # every line is the worker's or the engine's own (its other jobs, notices and syncs, too).
    assert all(line.startswith(("engine.", "accessflow.")) for line in lines), lines
    [job] = [line for line in lines if line.startswith("engine.provisioning.calls: job ")]
    assert "(wiki, attempt 1): created" in job
    assert "accessflow.worker: worker w1: 1 provisioning jobs run" in lines


# Packaging


def test_wheel_holds_templates_static_migrations_and_workflows_without_warnings(tmp_path):
    source = tmp_path / "source"
    skip = shutil.ignore_patterns(
        ".git", ".venv", "node_modules", "build", "instance", "*.egg-info", "__pycache__"
    )
    shutil.copytree(ROOT, source, ignore=skip)
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", ".", "-w", str(tmp_path)],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert build.returncode == 0, build.stderr
    assert "absent from" not in build.stdout + build.stderr
    [wheel] = tmp_path.glob("accessflow-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in (
        "engine/migrations/env.py",
        "engine/migrations/script.py.mako",
        "engine/migrations/versions/0001_initial_schema.py",
        "ui/templates/login.html",
        "ui/templates/_demo_users.html",
        "ui/templates/admin/audit.html",
        "ui/templates/designer/modeler.html",
        "ui/static/app.css",
        "ui/static/app.js",
        "api/templates/api_docs.html",
        "workflows/access_request.bpmn",
    ):
        assert name in names, name


# The API docs page


def test_api_docs_page_reads_as_documentation(tmp_path):
    answer = bare_app(tmp_path).test_client().get("/api/docs")
    assert answer.status_code == 200
    page = answer.text
    text = text_of(page)
    assert "$ref" not in page and "`" not in text  # refs followed, inline code rendered
    assert "<code>Authorization: Bearer &lt;token&gt;</code>" in page
    assert "DELETE /api/v1/cart/items/{line_id} Take one line out of the caller's cart." in text
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing from outside

    add = text.split("POST /api/v1/cart/items ", 1)[1].split("Answers:", 1)[0]
    assert "Request body (CartLineIn)" in add
    assert "application string required" in add and "account_mode one of create" in add

    submit = page.split('id="op-submitCart"', 1)[1].split("</section>", 1)[0]
    assert "<code>Idempotency-Key</code>" in submit
    assert "409" in text_of(submit.split("Answers:", 1)[1])


def test_every_api_operation_says_what_it_does(tmp_path):
    spec = bare_app(tmp_path).test_client().get("/api/openapi.json").json
    silent = [
        f"{method.upper()} {path}"
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if method != "parameters" and not operation.get("summary")
    ]
    assert silent == []
    assert "409" in spec["paths"]["/api/v1/cart/submit"]["post"]["responses"]
