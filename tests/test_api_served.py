"""The API as a script meets it: over HTTP, against `accessflow serve` (gunicorn, 2 workers)."""

import subprocess
import sys
import threading
from pathlib import Path

from tests.served import CROWD, served, served_postgres, served_sqlite  # noqa: F401


def test_the_whole_life_of_a_request_over_http(served):  # noqa: F811
    alice, mark, gina = served.as_("alice"), served.as_("mark"), served.as_("gina")
    fred, fiona = served.as_("fred"), served.as_("fiona")
    for beneficiary in ("alice", "bob"):
        line = {"application": "crm", "beneficiary": beneficiary, "justification": "sales work"}
        assert alice.post("/api/v1/cart/items", line).status_code == 201
    submitted = alice.post("/api/v1/cart/submit", headers={"Idempotency-Key": "life-1"})
    assert submitted.status_code == 201
    items = submitted.json()["items"]
    assert [(i["beneficiary"], i["status"]) for i in items] == [
        ("alice", "pending_approval"),
        ("bob", "pending_approval"),
    ]
    mine = items[0]["id"]
    assert alice.get(f"/api/v1/items/{mine}").json()["status"] == "pending_approval"

    task = mark.task_on(mine)
    assert (task["name"], task["lane"], task["beneficiary"]) == (
        "Manager approval",
        "Manager",
        "alice",
    )
    assert mark.post(f"/api/v1/tasks/{task['id']}/complete", {"decision": "approve"}).ok
    task = gina.task_on(mine)
    assert task["lane"] == "ApproverGroup"
    assert gina.post(f"/api/v1/tasks/{task['id']}/complete", {"decision": "approve"}).ok
    assert alice.get(f"/api/v1/items/{mine}").json()["status"] == "pending_fulfillment"

    task = fred.task_on(mine)
    assert fred.post(f"/api/v1/tasks/{task['id']}/claim").json()["claimed_by"] == "fred"
    refused = fiona.post(f"/api/v1/tasks/{task['id']}/claim")
    assert refused.status_code == 409
    assert refused.headers["Content-Type"] == "application/problem+json"
    done = fred.post(
        f"/api/v1/tasks/{task['id']}/complete", {"decision": "approve", "account_id": "CRM-0042"}
    )
    assert done.status_code == 200

    item = alice.get(f"/api/v1/items/{mine}").json()
    assert (item["status"], item["account_id"]) == ("fulfilled", "CRM-0042")
    assert [(h["event"], h["actor"]) for h in item["history"]] == [
        ("submitted", "alice"),
        ("task_created", None),
        ("approved", "mark"),
        ("task_created", None),
        ("approved", "gina"),
        ("task_created", None),
        ("claimed", "fred"),
        ("fulfilled", "fred"),
        ("access_assigned", "alice"),  # the fulfilled request became her assignment
    ]
    fulfilled = alice.get("/api/v1/items?status=fulfilled").json()["items"]
    assert [i["id"] for i in fulfilled] == [mine]


def test_twenty_fulfillers_claim_at_once_and_exactly_one_wins(served_postgres):  # noqa: F811
    server = served_postgres
    alice = server.as_("alice")
    assert alice.post("/api/v1/cart/items", {"application": "erp"}).status_code == 201
    item = alice.post("/api/v1/cart/submit").json()["items"][0]["id"]
    for approver in ("mark", "gina"):
        person = server.as_(approver)
        person.post(f"/api/v1/tasks/{person.task_on(item)['id']}/complete", {"decision": "approve"})
    crowd = [server.as_(name, token) for name, token in server.tokens_in_process(CROWD).items()]
    task = crowd[0].task_on(item)["id"]
    start, answers = threading.Barrier(len(crowd)), []

    def claim(person):
        start.wait()
        answers.append(person.post(f"/api/v1/tasks/{task}/claim").status_code)

    threads = [threading.Thread(target=claim, args=(p,)) for p in crowd]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [200] + [409] * 19


def test_five_retries_of_one_submit_at_once_create_one_request(served_postgres):  # noqa: F811
    dora = served_postgres.as_("dora")
    assert dora.post("/api/v1/cart/items", {"application": "crm"}).status_code == 201
    start, answers = threading.Barrier(5), []

    def submit():
        retrying = served_postgres.as_("dora")
        start.wait()
        answer = retrying.post("/api/v1/cart/submit", headers={"Idempotency-Key": "dora-retry"})
        answers.append((answer.status_code, answer.json().get("id"), answer.text))

    threads = [threading.Thread(target=submit) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(code for code, _, _ in answers) == [200, 200, 200, 200, 201], answers
    assert len({request_id for _, request_id, _ in answers}) == 1
    assert len(dora.get("/api/v1/requests").json()["items"]) == 1


def test_the_docs_page_and_openapi_document_are_served(served_sqlite):  # noqa: F811
    import requests

    page = requests.get(f"{served_sqlite.url}/api/docs", timeout=10)
    spec = requests.get(f"{served_sqlite.url}/api/openapi.json", timeout=10).json()
    assert page.status_code == 200 and "/api/openapi.json" in page.text
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert "/api/v1/tasks/{task_id}/complete" in spec["paths"]


def test_schemathesis_finds_no_server_error_and_no_answer_off_schema(served_postgres):  # noqa: F811
    server = served_postgres
    stan = server.as_("stan")
    stan.post("/api/v1/cart/items", {"application": "wiki", "beneficiary": "dora"})
    stan.post("/api/v1/cart/submit")  # so that lists hold rows to check against the schema
    run = subprocess.run(
        [
            str(Path(sys.executable).parent / "st"),
            "run",
            f"{server.url}/api/openapi.json",
            "--header",
            f"Authorization: Bearer {server.token('root')}",
            "--checks",
            "not_a_server_error,response_schema_conformance,ignored_auth",
            "--exclude-path",
            "/api/v1/me/tokens/revoke",
            "--max-examples",
            "40",
            "--seed",
            "20240501",
            "--generation-database",
            "none",
            "--workers",
            "1",
            "--no-color",
            "--output-sanitize",
            "true",
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    print(run.stdout[-2500:])  # the summary, shown with -s or on failure
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
    assert "No issues found" in run.stdout or "passed" in run.stdout.lower(), run.stdout[-3000:]
    assert "Traceback" not in server.server_log()
