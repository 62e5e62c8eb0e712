"""Issue 9 against the real processes: hostile BPMN deployed with `accessflow deploy` and through
the designer over HTTP, items requested and decided over HTTP against `accessflow serve`
(gunicorn) with an `accessflow worker` on the same database.

After every payload the site must still stand: /healthz answers, no response was a 5xx, the
payload's marker file does not exist, gunicorn and the worker are alive. A file refused at deploy
is refused with the element named; an accepted file whose workflow faults fails its item into a
`workflow_failed` incident. See tests/bpmn_attacks.py for the places and payloads.
"""

import json
import re
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.bpmn_attacks import (
    MANAGER,
    PAYLOADS,
    PLACES,
    _multi_instance,
    attack,
    chain,
    document,
    flow,
)
from tests.served import ACCESSFLOW, HttpCaller, Server

# The site starts once: several CLI runs and two servers; a loaded machine is slow.
pytestmark = [pytest.mark.processes, pytest.mark.timeout(600)]


@dataclass(frozen=True)
class Case:
    name: str
    bpmn: object  # (key, marker) -> BPMN text
    element: str | None = None  # refused at deploy, naming this element; None: accepted

    @property
    def key(self) -> str:
        return "served_" + self.name.replace("-", "_")


def _placed(place: str, payload: str):
    """A place of the battery holding a payload (a PAYLOADS name, or an expression)."""
    expression = PAYLOADS.get(payload, payload)
    return lambda key, marker: PLACES[place].bpmn(key, attack(expression, marker))


def _spin(entry: str) -> str:
    """From `entry`, two exclusive gateways that send the token to each other for ever."""
    return "\n".join(
        [
            '<bpmn:exclusiveGateway id="spin" default="f_out" />',
            '<bpmn:exclusiveGateway id="spin_again" />',
            flow(entry, "spin"),
            flow("spin", "spin_again", "f_spin", "True"),
            flow("spin_again", "spin", "f_back"),
            flow("spin", "end", "f_out"),
        ]
    )


_WAIT = (
    '<bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition id="wait_timer">'
    '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">"PT1S"</bpmn:timeDuration>'
    "</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
)


def _service(expression: str) -> str:
    return (
        '<bpmn:serviceTask id="provision_it"><bpmn:extensionElements>'
        '<spiffworkflow:serviceTaskOperator id="provision" resultVariable="provisioning">'
        "<spiffworkflow:parameters>"
        f'<spiffworkflow:parameter id="operation" type="str" value="{expression}" />'
        "</spiffworkflow:parameters></spiffworkflow:serviceTaskOperator>"
        "</bpmn:extensionElements></bpmn:serviceTask>"
    )


def _loop_after_approval(key, _marker):
    body = [MANAGER.format(inner=""), flow("start", "manager_approval"), _spin("manager_approval")]
    return document(key, "\n".join(body))


def _loop_after_timer(key, _marker):
    return document(key, "\n".join([_WAIT, flow("start", "wait"), _spin("wait")]))


def _parameter_after_timer(key, _marker):
    body = [_WAIT, _service("int(item_id)"), chain("start", "wait", "provision_it", "end")]
    return document(key, "\n".join(body))


def _cardinality_after_timer(key, _marker):
    task = MANAGER.format(inner=_multi_instance("len(item_id) * 10"))
    body = [_WAIT, task, chain("start", "wait", "manager_approval", "end")]
    return document(key, "\n".join(body))


# The holes that ran code or ate the server before issue 9, refused at deploy.
REFUSED = [
    Case("catch-correlation", _placed("catch-processVariableCorrelation", "import-system"),
         "request_message"),
    Case("throw-correlation", _placed("throw-correlationRetrieval", "open-write"),
         "request_message"),
    Case("throw-payload", _placed("throw-messagePayload", "pathlib-touch"), "request_message"),
    Case("adhoc-completion", _placed("adhoc-completionCondition", "popen-subclass"), "attacked"),
    Case("adhoc-loop", _placed("adhoc-loopCondition", "reduce-ex-globals"), "attacked"),
    Case("mi-completion", _placed("mi-completionCondition", "generator-frame-builtins"),
         "manager_approval"),
    Case("loop-condition", _placed("loop-loopCondition", "lambda-call"), "manager_approval"),
    Case("cardinality-million", _placed("mi-loopCardinality", "10**6"), "manager_approval"),
    Case("power-tower-condition", _placed("exclusive-condition", "10**10**10"), "attacked"),
    Case("timer-not-a-duration", _placed("catch-timeDuration", '"tomorrow"'), "attacked"),
]  # fmt: skip
# Accepted at deploy (what they compute depends on the item), failing when an item runs them:
# at submit or after the manager's approval, in the web process.
FAULTING_IN_WEB = [
    Case("cardinality-from-data", _placed("mi-loopCardinality", "len(item_id) * 10")),
    Case("power-from-data", _placed("exclusive-condition", "len(item_id) ** (len(item_id) * 9)")),
    Case("timer-from-data", _placed("boundary-timeDuration", "item_id")),
    Case("service-parameter-from-data", _placed("service-parameter", "int(item_id)")),
]
# ... and when the worker fires a timer.
FAULTING_IN_WORKER = [
    Case("service-parameter-after-timer", _parameter_after_timer),
    Case("cardinality-after-timer", _cardinality_after_timer),
]
# Two exclusive gateways passing the token to each other for ever: after the manager's approval
# (web) and after a timer (worker).
ENDLESS = [
    Case("endless-loop-after-approval", _loop_after_approval),
    Case("endless-loop-after-timer", _loop_after_timer),
]
HARMLESS = Case("designer-target", _placed("exclusive-condition", "True"))
DESIGNED = [
    Case("designer-correlation", _placed("catch-processVariableCorrelation", "wrap-close-globals"),
         "request_message"),
    Case("designer-power-tower", _placed("exclusive-condition", "10**10**10"), "attacked"),
]  # fmt: skip
# Accepted by the designer as a new version of HARMLESS's process: it would fail every item.
DESIGNED_DRAFT = _placed("mi-loopCardinality", "len(item_id) * 10")
ACCEPTED = FAULTING_IN_WEB + FAULTING_IN_WORKER + ENDLESS + [HARMLESS]


def _cli(site, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [ACCESSFLOW, *args], env=site.server.env, capture_output=True, text=True, timeout=120
    )


class RecordingCaller(HttpCaller):
    """An HttpCaller that writes down every answer, so a 5xx anywhere is seen."""

    def __init__(self, base_url, token, answers):
        super().__init__(base_url, token)
        self.answers = answers

    def call(self, method, path, **kwargs):
        answer = super().call(method, path, **kwargs)
        self.answers.append((method, path, answer.status_code))
        return answer


class Site:
    """The served web, its worker, the deploy results, and everyone's HTTP answers."""

    def __init__(self, home: Path):
        self.home = home
        self.server = Server(home, f"sqlite:///{home / 'accessflow.db'}")
        self.answers: list[tuple[str, str, int]] = []
        self.deployed: dict[str, subprocess.CompletedProcess] = {}
        self.worker = None

    def start_worker(self) -> None:
        self.worker_log = open(self.home / "worker.log", "wb")  # noqa: SIM115
        self.worker = subprocess.Popen(
            [ACCESSFLOW, "worker", "--id", "attacked", "--interval", "0.2"],
            env=self.server.env,
            stdout=self.worker_log,
            stderr=subprocess.STDOUT,
        )

    def worker_text(self) -> str:
        return (self.home / "worker.log").read_text(errors="replace")

    def as_(self, username: str) -> RecordingCaller:
        return RecordingCaller(self.server.url, self.tokens[username], self.answers)

    def marker(self, case: Case) -> Path:
        return self.home / f"{case.name}.marker"

    def file_of(self, case: Case) -> Path:
        path = self.home / f"{case.name}.bpmn"
        path.write_text(case.bpmn(case.key, self.marker(case)))
        return path

    def request(self, case: Case) -> dict:
        """Alice requests the case's application over HTTP; returns her submitted item."""
        alice = self.as_("alice")
        for left in alice.get("/api/v1/cart").json()["items"]:  # from a test that failed
            alice.call("DELETE", f"/api/v1/cart/items/{left['id']}")
        line = {"application": _app_key(case), "justification": "attack"}
        assert alice.post("/api/v1/cart/items", line).status_code == 201
        submitted = alice.post("/api/v1/cart/submit")
        assert submitted.status_code == 201, submitted.text
        [item] = submitted.json()["items"]
        return item

    def item(self, item_id: str) -> dict:
        return self.as_("alice").get(f"/api/v1/items/{item_id}").json()

    def workflow_incidents(self) -> dict[str, dict]:
        listed = self.as_("root").get("/api/v1/admin/incidents", params={"status": "all"})
        assert listed.status_code == 200, listed.text
        return {i["item"]: i for i in listed.json()["items"] if i["kind"] == "workflow_failed"}

    def assert_standing(self, marker: Path) -> None:
        """The site after a payload: healthy, no 5xx so far, no marker, both processes up."""
        health = requests.get(f"{self.server.url}/healthz", timeout=10)
        self.answers.append(("GET", "/healthz", health.status_code))
        assert health.status_code == 200, health.text
        assert [a for a in self.answers if a[2] >= 500] == []
        assert not marker.exists(), "the payload ran"
        assert self.server.process.poll() is None, self.server.server_log()[-3000:]
        assert self.worker.poll() is None, self.worker_text()[-3000:]
        served_log = self.server.server_log()
        for sign in ("WORKER TIMEOUT", "Exception on ", "was sent SIGKILL", "Worker exited"):
            assert sign not in served_log, served_log[-3000:]


def _app_key(case: Case) -> str:
    return f"app-{case.name}"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Server and worker up; every file deployed with the CLI (four at a time, to save the
    interpreter start-ups), each accepted process behind an application of its own."""
    site = Site(tmp_path_factory.mktemp("served-attacks"))
    site.server.start()
    try:
        site.start_worker()
        with ThreadPoolExecutor(4) as pool:
            deploys = {c.name: pool.submit(_cli, site, "deploy", str(site.file_of(c)))
                       for c in REFUSED + ACCEPTED}  # fmt: skip
            tokens = {u: pool.submit(_cli, site, "token", u) for u in ("alice", "mark", "root")}
            site.deployed = {name: future.result() for name, future in deploys.items()}
            site.tokens = {}
            for user, future in tokens.items():
                issued = future.result()
                assert issued.returncode == 0, issued.stderr
                site.tokens[user] = issued.stdout.strip()
        for case in ACCEPTED:
            assert site.deployed[case.name].returncode == 0, site.deployed[case.name].stderr
        directory = {
            "users": [
                {"username": "dora", "email": "dora@example.com", "manager": "mark",
                 "password": "dora-pw"}
            ],
            "applications": [
                {"key": _app_key(c), "name": c.name, "kind": "disconnected",
                 "approver_group": "crm-approvers", "fulfiller_group": "it-fulfillers",
                 "workflow": c.key}
                for c in ACCEPTED
            ],
        }  # fmt: skip
        (site.home / "attacks.json").write_text(json.dumps(directory))
        site.server.cli("import", str(site.home / "attacks.json"))
        yield site
    finally:
        if site.worker is not None and site.worker.poll() is None:
            site.worker.send_signal(signal.SIGTERM)
            site.worker.wait(timeout=20)
            site.worker_log.close()
        site.server.stop()


@pytest.mark.parametrize("case", REFUSED, ids=[c.name for c in REFUSED])
def test_the_cli_refuses_a_hostile_file_naming_its_element_and_the_site_stands(site, case):
    site.assert_standing(site.marker(case))  # first: the worst outcome, the payload ran
    refused = site.deployed[case.name]
    assert refused.returncode != 0, refused.stdout
    assert f"'{case.element}'" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr, refused.stderr


def _decide_open_tasks(site, item_id: str) -> int:
    """Mark approves whatever the item waits on him for; returns how many tasks he decided."""
    mark, decided = site.as_("mark"), 0
    for task in mark.get("/api/v1/tasks").json()["items"]:
        if task["item"] == item_id:
            answer = mark.post(f"/api/v1/tasks/{task['id']}/complete", {"decision": "approve"})
            assert answer.status_code == 200, answer.text
            decided += 1
    return decided


@pytest.mark.parametrize("case", FAULTING_IN_WEB, ids=[c.name for c in FAULTING_IN_WEB])
def test_an_accepted_file_that_faults_in_the_web_fails_its_item_and_the_site_stands(site, case):
    item = site.request(case)
    if item["status"] != "failed":  # the fault is past the manager's approval
        assert item["status"] == "pending_approval", item
        assert _decide_open_tasks(site, item["id"]) == 1
    assert site.item(item["id"])["status"] == "failed"
    assert item["id"] in site.workflow_incidents()
    site.assert_standing(site.marker(case))


def test_files_that_fault_when_the_worker_fires_their_timer_fail_the_items_and_the_worker_goes_on(
    site,
):
    items = {case.name: site.request(case)["id"] for case in FAULTING_IN_WORKER}
    assert {site.item(i)["status"] for i in items.values()} == {"pending_approval"}
    deadline = time.monotonic() + 90  # the worker fires timers every 5 s; a loaded machine is slow
    while time.monotonic() < deadline:
        if all(site.item(i)["status"] == "failed" for i in items.values()):
            break
        time.sleep(0.5)
    assert {name: site.item(i)["status"] for name, i in items.items()} == {
        name: "failed" for name in items
    }, site.worker_text()[-3000:]
    assert set(items.values()) <= set(site.workflow_incidents())
    for case in FAULTING_IN_WORKER:
        site.assert_standing(site.marker(case))


def test_an_endless_gateway_loop_fails_its_item_instead_of_ending_it(site):
    web, worker = (site.request(case)["id"] for case in ENDLESS)
    assert _decide_open_tasks(site, web) == 1
    deadline = time.monotonic() + 90  # the worker fires timers every 5 s; a loaded machine is slow
    while time.monotonic() < deadline and site.item(worker)["status"] == "pending_approval":
        time.sleep(0.5)
    for case in ENDLESS:
        site.assert_standing(site.marker(case))
    outcome = {case.name: site.item(i)["status"] for case, i in zip(ENDLESS, (web, worker))}
    assert outcome == {case.name: "failed" for case in ENDLESS}
    incidents = site.workflow_incidents()
    assert all("budget" in incidents[i]["error"] for i in (web, worker)), incidents


def _browser_as(site, username: str, password: str) -> tuple[requests.Session, str]:
    """A signed-in browser session and its CSRF token, as the login page and the designer
    page hand them out."""
    browser = requests.Session()
    login = browser.get(f"{site.server.url}/login", timeout=30)
    token = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)
    signed_in = browser.post(
        f"{site.server.url}/login",
        data={"username": username, "password": password, "csrf_token": token},
        allow_redirects=False,
        timeout=30,
    )
    assert signed_in.status_code == 302, signed_in.text
    page = browser.get(f"{site.server.url}/designer", timeout=30)
    assert page.status_code == 200, page.text
    return browser, re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text).group(1)


def _designer_deploy(site, browser, token, key: str, content: str) -> requests.Response:
    answer = browser.post(
        f"{site.server.url}/designer/{key}/deploy",
        data=content.encode(),
        headers={"X-CSRFToken": token, "Content-Type": "application/xml"},
        timeout=30,
    )
    site.answers.append(("POST", f"/designer/{key}/deploy", answer.status_code))
    return answer


@pytest.mark.parametrize("case", DESIGNED, ids=[c.name for c in DESIGNED])
def test_the_designer_refuses_a_hostile_file_with_a_problem_naming_its_element(site, case):
    browser, token = _browser_as(site, "dora", "dora-pw")
    content = case.bpmn(case.key, site.marker(case))
    answer = _designer_deploy(site, browser, token, case.key, content)
    assert 400 <= answer.status_code < 500, answer.text
    problem = answer.json()
    assert problem["ok"] is False and problem["element"] == case.element, problem
    assert f"'{case.element}'" in problem["error"]
    site.assert_standing(site.marker(case))


def test_a_file_the_designer_accepts_is_a_draft_new_items_do_not_run_on(site):
    browser, token = _browser_as(site, "dora", "dora-pw")
    key = HARMLESS.key
    marker = site.home / "designer-draft.marker"
    answer = _designer_deploy(site, browser, token, key, DESIGNED_DRAFT(key, marker))
    assert answer.status_code == 201, answer.text
    assert (answer.json()["status"], answer.json()["version"]) == ("draft", 2)
    # On the draft this item would fail at submit (a cardinality of 360, past the cap of 100).
    item = site.request(HARMLESS)
    assert item["status"] == "pending_approval", item
    assert _decide_open_tasks(site, item["id"]) == 1
    assert site.item(item["id"])["status"] == "fulfilled"
    site.assert_standing(marker)


def test_after_the_battery_the_worker_stops_cleanly_without_a_fatal_traceback(site):
    site.assert_standing(site.home / "none.marker")
    log = site.worker_text()
    assert "raised an exception" not in log, log[-3000:]  # APScheduler: a job died
    site.worker.send_signal(signal.SIGTERM)
    assert site.worker.wait(timeout=20) == 0, log[-3000:]
    assert "stopping (signal" in site.worker_text()
