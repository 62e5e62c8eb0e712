"""Stories of connected applications: an approved item becomes a real account in scim2-server.

The worker runs in-process here (`Worker.run_until_idle`, the code `accessflow worker --once`
runs); tests/test_provisioning_processes.py runs it as separate processes.
"""

from datetime import timedelta

import pytest
from sqlalchemy import select

from api.worker import Worker
from engine.db import db, utcnow
from engine.errors import Invalid
from engine.models import Account, Incident, ProvisioningJob, ProvisioningLog
from engine.provisioning import jobs
from engine.provisioning.calls import run_job
from engine.tasks import actions
from tests import provisioning_support as support
from tests import scim_server as server_plugin
from tests.flow import act, open_task
from tests.provisioning_support import (
    FaultProxy,
    approved_wiki_item,
    connect_wiki,
    scim_users,
)
from tests.scim_server import SCIM_TOKEN

scim_server_process = server_plugin.scim_server_process
scim_server = server_plugin.scim_server
smtp_inbox = support.smtp_inbox


def work(app, worker_id=None, timeout=30.0) -> int:
    """Run the worker until nothing is left to do, then read the database afresh."""
    db.session.rollback()
    done = Worker(app, worker_id).run_until_idle(timeout=timeout)
    db.session.rollback()
    db.session.expire_all()
    return done


def job_of(item) -> ProvisioningJob:
    return db.session.scalars(
        select(ProvisioningJob)
        .where(ProvisioningJob.item_id == item.id)
        .order_by(ProvisioningJob.created_at.desc())
    ).first()


def log_of(item) -> list[ProvisioningLog]:
    return db.session.scalars(
        select(ProvisioningLog)
        .where(ProvisioningLog.item_id == item.id)
        .order_by(ProvisioningLog.id)
    ).all()


def test_approved_item_ends_with_an_account_in_the_target(app, people, scim_server):
    connect_wiki(scim_server)
    item = approved_wiki_item(people)
    assert item.status == "provisioning"

    assert work(app) == 1

    assert item.status == "fulfilled" and item.open_key is None
    [user] = scim_users(scim_server)
    alice = people["alice"]
    assert user["userName"] == "alice"
    assert user["name"] == {"givenName": "Alice", "familyName": "Archer"}
    assert user["displayName"] == "Alice Archer"
    assert user["emails"][0]["value"] == "alice@example.com"
    assert user["externalId"] == alice.id and user["active"] is True
    account = db.session.get(Account, item.account_id)
    assert (account.user_id, account.external_id) == (alice.id, user["id"])
    job = job_of(item)
    assert (job.status, job.attempts, job.lease_owner) == ("succeeded", 1, None)
    assert job.result["status"] == "succeeded" and job.result["linked"] is False
    [entry] = log_of(item)
    assert (entry.outcome, entry.operation, entry.external_id) == ("created", "create", user["id"])
    assert entry.duration_ms >= 0 and entry.error is None


def test_an_account_already_in_the_target_is_linked_not_duplicated(app, people, scim_server):
    connect_wiki(scim_server)
    import requests

    existing = requests.post(
        scim_server + "/Users",
        json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ALICE"},
        headers={"Authorization": f"Bearer {SCIM_TOKEN}"},
        timeout=10,
    ).json()
    item = approved_wiki_item(people)

    work(app)

    assert item.status == "fulfilled"
    assert [u["id"] for u in scim_users(scim_server)] == [existing["id"]]
    assert db.session.get(Account, item.account_id).external_id == existing["id"]
    assert [e.outcome for e in log_of(item)] == ["linked"]


def test_a_validation_error_goes_straight_to_the_failed_task(app, people, scim_server):
    """HTTP 400 from the target (an attribute its schema lacks): no retry, an incident."""
    connect_wiki(scim_server, attribute_map={"costCenter": "first_name"}, max_attempts=5)
    item = approved_wiki_item(people)

    work(app)

    assert item.status == "failed"
    job = job_of(item)
    assert (job.status, job.attempts) == ("failed", 1)
    assert "HTTP 400" in job.last_error and job.result["status"] == "failed"
    [entry] = log_of(item)
    assert (entry.outcome, entry.http_status) == ("failed", 400)
    assert scim_users(scim_server) == []


def test_a_target_answering_500_fails_the_item_after_the_retries(
    app, people, scim_server, smtp_inbox
):
    inbox, port = smtp_inbox
    app.config.update(SMTP_PORT=port, MAIL_FROM="accessflow@example.com")
    with FaultProxy(scim_server) as proxy:
        proxy.fail_with(500)
        connect_wiki(proxy.base_url)
        item = approved_wiki_item(people)

        work(app)

    assert item.status == "failed" and item.is_open
    job = job_of(item)
    assert (job.status, job.attempts) == ("failed", 3)
    assert [e.outcome for e in log_of(item)] == ["retrying", "retrying", "failed"]
    assert all(e.http_status == 500 for e in log_of(item))
    task = open_task(item)
    assert (task.kind, task.lane, task.title) == (
        "failed_provisioning",
        "Fulfiller",
        "Failed auto-provision",
    )
    assert task.candidate_group_id == people["fred"].groups[0].id
    [incident] = db.session.scalars(select(Incident)).all()
    assert (incident.kind, incident.status, incident.item_id) == (
        "provisioning_failed",
        "open",
        item.id,
    )
    assert "HTTP 500" in incident.error
    [message] = inbox.wait_for(1)
    assert message["X-Envelope-To"] == "it@example.com"
    assert message["From"] == "accessflow@example.com"
    assert "Failed auto-provision: alice in Wiki" in message["Subject"]
    assert "HTTP 500" in message.get_payload()
    db.session.refresh(incident)
    assert incident.notified_at is not None
    assert scim_users(scim_server) == []


def test_retry_from_the_failed_task_provisions_once(app, people, scim_server):
    with FaultProxy(scim_server) as proxy:
        proxy.fail_with(503)
        connect_wiki(proxy.base_url)
        item = approved_wiki_item(people)
        work(app)
        assert item.status == "failed"

        proxy.heal()
        act(
            actions.complete_task,
            people["fred"],
            open_task(item).id,
            "retry",
            comment="wiki is back",
        )
        assert item.status == "provisioning"
        work(app)

    assert item.status == "fulfilled"
    assert len(scim_users(scim_server)) == 1
    jobs_of_item = db.session.scalars(
        select(ProvisioningJob).where(ProvisioningJob.item_id == item.id)
    ).all()
    assert sorted(j.status for j in jobs_of_item) == ["failed", "succeeded"]
    assert [e.outcome for e in log_of(item)][-1] == "created"
    incident = db.session.scalars(select(Incident)).one()
    assert incident.status == "resolved" and "later attempt" in incident.resolution


def test_the_failed_task_can_be_fulfilled_by_hand_or_rejected(app, people):
    # The directory's wiki points at a dead port: connection refused, retryable, runs out.
    connect_wiki("http://127.0.0.1:9/wiki/v2")
    item = approved_wiki_item(people)
    other = approved_wiki_item(people, "bob")
    work(app)
    assert (item.status, other.status) == ("failed", "failed")

    with pytest.raises(Invalid, match="account_id"):
        act(actions.complete_task, people["fred"], open_task(item).id, "approve")
    act(actions.complete_task, people["fred"], open_task(item).id, "approve", account_id="WIKI-7")
    assert item.status == "fulfilled"
    assert db.session.get(Account, item.account_id).external_id == "WIKI-7"
    act(actions.complete_task, people["fiona"], open_task(other).id, "reject", comment="no licence")
    assert (other.status, other.outcome_reason) == ("rejected", "no licence")
    # People handled both failures, so neither incident stays open for an admin.
    incidents = db.session.scalars(
        select(Incident).where(Incident.item_id.in_([item.id, other.id]))
    )
    assert sorted((i.status, i.resolution) for i in incidents) == [
        ("resolved", "fulfilled by hand by fred"),
        ("resolved", "rejected by fiona"),
    ]


def test_a_throttled_target_is_retried_after_its_retry_after(app, people, scim_server):
    with FaultProxy(scim_server) as proxy:
        proxy.fail_with(429, times=1, headers={"Retry-After": "1"})
        connect_wiki(proxy.base_url)
        item = approved_wiki_item(people)
        db.session.rollback()
        worker = Worker(app)
        assert worker.drain() == 1
        db.session.rollback()
        db.session.expire_all()
        job = job_of(item)
        assert job.status == "pending" and job.attempts == 1
        assert job.next_run_at >= job.updated_at + timedelta(seconds=0.99)
        assert worker.drain() == 0  # not due yet
        work(app)
    assert item.status == "fulfilled" and job_of(item).attempts == 2


def test_an_answer_lost_after_the_create_links_the_account_on_retry(app, people, scim_server):
    with FaultProxy(scim_server) as proxy:
        proxy.lose_answer("POST")
        connect_wiki(proxy.base_url)
        item = approved_wiki_item(people)
        work(app)
    assert item.status == "fulfilled"
    assert len(scim_users(scim_server)) == 1
    assert [e.outcome for e in log_of(item)] == ["retrying", "linked"]


def test_a_job_whose_lease_expired_is_taken_by_another_worker(app, people, scim_server):
    connect_wiki(scim_server)
    item = approved_wiki_item(people)
    assert jobs.claim_due_jobs("dead-worker", lease_seconds=60) == [job_of(item).id]
    assert jobs.claim_due_jobs("live-worker") == []  # leased: nobody else takes it

    db.session.execute(
        ProvisioningJob.__table__.update().values(lease_expires_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()
    work(app, "live-worker")

    assert item.status == "fulfilled"
    [entry] = log_of(item)
    assert (entry.worker, entry.attempt) == ("live-worker", 2)


def test_never_two_jobs_of_one_instance_at_once(app, people):
    item = approved_wiki_item(people)
    first = job_of(item)
    second = ProvisioningJob(
        item_id=item.id,
        instance_id=first.instance_id,
        application_id=first.application_id,
        spiff_task_id=first.spiff_task_id,
        operation="provision",
        params={"operation": "create"},
    )
    db.session.add(second)
    db.session.commit()

    claimed = jobs.claim_due_jobs("w1", limit=10)
    assert len(claimed) == 1
    assert jobs.claim_due_jobs("w2", limit=10) == []


def test_a_worker_whose_lease_expired_mid_call_records_nothing(app, people, scim_server):
    """While the target works, another worker takes the job over: the first one backs off."""
    engine = db.engine

    def steal_lease(method, _path):
        if method == "POST":
            with engine.begin() as connection:
                connection.execute(
                    ProvisioningJob.__table__.update().values(lease_owner="other-worker")
                )

    with FaultProxy(scim_server) as proxy:
        proxy.on_request = steal_lease
        connect_wiki(proxy.base_url)
        item = approved_wiki_item(people)
        [job_id] = jobs.claim_due_jobs("slow-worker")
        assert run_job(job_id, "slow-worker") == "abandoned"

    db.session.expire_all()
    assert item.status == "provisioning" and item.account_id is None
    job = job_of(item)
    assert (job.status, job.lease_owner) == ("running", "other-worker")
    [entry] = log_of(item)
    assert entry.outcome == "abandoned" and "lease lost" in entry.error
    assert entry.external_id == scim_users(scim_server)[0]["id"]  # the other worker will link it


def test_a_batch_is_looked_up_in_one_query_and_links_what_exists(app, people, scim_server):
    import requests

    requests.post(
        scim_server + "/Users",
        json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "bob"},
        headers={"Authorization": f"Bearer {SCIM_TOKEN}"},
        timeout=10,
    )
    with FaultProxy(scim_server) as proxy:
        connect_wiki(proxy.base_url)
        batch = [approved_wiki_item(people, name) for name in ("alice", "bob", "stan")]
        work(app)
    assert [i.status for i in batch] == ["fulfilled"] * 3
    assert sorted(u["userName"] for u in scim_users(scim_server)) == ["alice", "bob", "stan"]
    assert [e.outcome for i in batch for e in log_of(i)] == ["created", "linked", "created"]
    assert [m for m, _ in proxy.requests] == ["GET", "POST", "POST"]  # one lookup for three
