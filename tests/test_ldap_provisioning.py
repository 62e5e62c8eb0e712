"""Stories of an LDAP application (connector type `ldap`) provisioned through the same path as
SCIM ones: the worker, the outcomes, incidents and the lifecycle, against a real slapd."""

import json
import logging

import pytest
from sqlalchemy import select, update

from api.worker import Worker
from engine.access.people import deactivate
from engine.db import db, utcnow
from engine.directory import admin
from engine.directory.importer import import_directory
from engine.directory.lookup import application_by_key, find_application
from engine.errors import Invalid
from engine.models import Account, AuditEvent, Incident, ProvisioningJob, ProvisioningLog
from engine.requests import cart
from engine.unit_of_work import unit_of_work
from tests.api_client import api  # noqa: F401
from tests.flow import act, decide
from tests.ldap_server import (
    SERVICE_PASSWORD,
    ldap_directory,  # noqa: F401
    slapd_server,  # noqa: F401
)
from tests.provisioning_support import FAST_RETRIES, approved_wiki_item
from tests.test_ui_directory_forms import client, post, root  # noqa: F401


def connect_wiki_to_ldap(directory, **settings) -> dict:
    """Point the connected app `wiki` at the test's LDAP subtree (fast retries)."""
    connector = directory.settings(**{**FAST_RETRIES, **settings})
    application_by_key("wiki").connector_settings = connector
    db.session.commit()
    return connector


def work(app) -> int:
    db.session.rollback()
    done = Worker(app).run_until_idle(timeout=30)
    db.session.rollback()
    db.session.expire_all()
    return done


def drain_once(app) -> int:
    """Run only the jobs due now: one attempt each."""
    db.session.rollback()
    done = Worker(app).drain()
    db.session.rollback()
    db.session.expire_all()
    return done


def log_of(item) -> list[ProvisioningLog]:
    return db.session.scalars(
        select(ProvisioningLog)
        .where(ProvisioningLog.item_id == item.id)
        .order_by(ProvisioningLog.id)
    ).all()


def job_of(item) -> ProvisioningJob:
    return db.session.scalars(
        select(ProvisioningJob)
        .where(ProvisioningJob.item_id == item.id)
        .order_by(ProvisioningJob.created_at.desc())
    ).first()


def values(attributes, name) -> list[str]:
    return [v.decode() for v in attributes.get(name, [])]


def test_an_approved_request_creates_the_entry(app, people, ldap_directory):  # noqa: F811
    connect_wiki_to_ldap(ldap_directory)
    item = approved_wiki_item(people)

    assert work(app) == 1

    assert item.status == "fulfilled"
    [(dn, entry)] = ldap_directory.entries().items()
    assert dn == f"uid=alice,{ldap_directory.people}"
    assert values(entry, "mail") == ["alice@example.com"] and values(entry, "sn") == ["Archer"]
    account = db.session.get(Account, item.account_id)
    assert account.external_id == values(entry, "entryUUID")[0]
    assert [(e.outcome, e.external_id) for e in log_of(item)] == [("created", account.external_id)]


def test_an_entry_already_in_the_directory_is_linked(app, people, ldap_directory):  # noqa: F811
    dn = ldap_directory.add_person("alice", cn="Alice from before", sn="Archer")
    connect_wiki_to_ldap(ldap_directory)
    item = approved_wiki_item(people)

    work(app)

    assert item.status == "fulfilled" and list(ldap_directory.entries()) == [dn]
    assert [e.outcome for e in log_of(item)] == ["linked"]
    uuid = values(ldap_directory.entries()[dn], "entryUUID")[0]
    assert db.session.get(Account, item.account_id).external_id == uuid


def test_an_update_after_a_name_change_rewrites_the_entry(app, people, ldap_directory):  # noqa: F811
    connect_wiki_to_ldap(ldap_directory)
    approved_wiki_item(people)
    work(app)
    act(
        admin.update_user,
        people["root"],
        "alice",
        {"last_name": "Baker", "display_name": "Alice Baker", "email": "alice.baker@example.com"},
    )
    with unit_of_work():
        cart.add_to_cart(people["alice"], "wiki", "alice", "update", justification="new name")
        [item] = cart.submit_cart(people["alice"]).items
    decide(people["mark"], item)
    decide(people["gina"], item)

    work(app)

    assert item.status == "fulfilled", [e.error for e in log_of(item)]
    [(dn, entry)] = ldap_directory.entries().items()
    assert values(entry, "sn") == ["Baker"] and values(entry, "cn") == ["Alice Baker"]
    assert values(entry, "mail") == ["alice.baker@example.com"]
    assert [e.outcome for e in log_of(item)] == ["updated"]


@pytest.mark.parametrize("strategy", ["attribute", "move", "delete"])
def test_a_leavers_entry_is_disabled_or_deleted(app, people, ldap_directory, strategy):  # noqa: F811
    if strategy == "attribute" and not ldap_directory.server.ppolicy:
        pytest.skip("slapd has no ppolicy overlay module")
    settings = {
        "attribute": {},
        "move": {"disable_strategy": "move", "disabled_dn": ldap_directory.disabled},
        "delete": {"supports_hard_delete": True},
    }[strategy]
    connect_wiki_to_ldap(ldap_directory, **settings)
    approved_wiki_item(people)
    work(app)
    alice = people["alice"]

    act(deactivate, people["root"], "alice", "contract ended")
    work(app)

    entries = ldap_directory.entries()
    if strategy == "attribute":
        [entry] = entries.values()
        assert values(entry, "pwdAccountLockedTime") == ["000001010000Z"]
    elif strategy == "move":
        assert list(entries) == [f"uid=alice,{ldap_directory.disabled}"]
    else:
        assert entries == {}
    assert (
        db.session.scalars(
            select(Account).where(Account.user_id == alice.id, Account.ended_at.is_(None))
        ).all()
        == []
    )


def test_a_server_down_is_retried_and_then_provisions(app, people, ldap_directory):  # noqa: F811
    connect_wiki_to_ldap(ldap_directory, backoff_base_seconds=3600, backoff_max_seconds=3600)
    item = approved_wiki_item(people)
    ldap_directory.server.stop()
    try:
        assert drain_once(app) == 1
    finally:
        ldap_directory.server.start()
    job = job_of(item)
    assert (item.status, job.status, job.attempts) == ("provisioning", "pending", 1)
    assert [e.outcome for e in log_of(item)] == ["retrying"]
    assert "server unreachable" in log_of(item)[0].error
    assert db.session.scalars(select(Incident)).all() == []

    db.session.execute(update(ProvisioningJob).values(next_run_at=utcnow()))  # the retry is due
    db.session.commit()
    assert drain_once(app) == 1

    assert item.status == "fulfilled" and job_of(item).attempts == 2
    assert [e.outcome for e in log_of(item)] == ["retrying", "created"]
    assert len(ldap_directory.entries()) == 1


def test_bad_credentials_raise_an_incident_not_a_retry_loop(
    app,
    people,
    ldap_directory,  # noqa: F811
    caplog,
):
    caplog.set_level(logging.DEBUG)
    wrong = "not-the-" + SERVICE_PASSWORD
    connect_wiki_to_ldap(ldap_directory, bind_password=wrong, max_attempts=5)
    item = approved_wiki_item(people)

    work(app)

    assert item.status == "failed"
    job = job_of(item)
    assert (job.status, job.attempts) == ("failed", 1)
    [entry] = log_of(item)
    assert entry.outcome == "failed" and "invalidCredentials" in entry.error
    [incident] = db.session.scalars(select(Incident)).all()
    assert incident.kind == "provisioning_failed" and "invalidCredentials" in incident.error
    assert ldap_directory.entries() == {}
    assert wrong not in caplog.text and wrong not in incident.error + entry.error


def test_the_bind_password_never_shows_in_answers_audit_or_logs(
    app,
    api,  # noqa: F811
    ldap_directory,  # noqa: F811
    caplog,
):
    caplog.set_level(logging.DEBUG)
    admin_api = api["root"]
    settings = ldap_directory.settings()
    made = admin_api.post(
        "/api/v1/admin/applications",
        {"key": "dir", "name": "Directory", "kind": "connected", "connector": settings},
    )
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["connector"]["bind_password"] == "********"
    edited = admin_api.call(
        "PATCH",
        "/api/v1/admin/applications/dir",
        json={"connector": {**settings, "bind_password": "********", "timeout": 3}},
    )
    assert edited.status_code == 200, edited.get_json()
    tested = admin_api.post("/api/v1/admin/applications/dir/test-connection")
    assert tested.status_code == 200, tested.get_json()
    assert tested.get_json()["bound_as"].startswith("dn:cn=accessflow")

    stored = json.dumps(application_by_key("dir").connector_settings)
    answers = [made, edited, tested, admin_api.get("/api/v1/admin/applications/dir")]
    events = db.session.scalars(select(AuditEvent)).all()
    audit = json.dumps([(e.event, e.comment, e.details) for e in events], default=str)
    for seen in [stored, audit, caplog.text, *(a.get_data(as_text=True) for a in answers)]:
        assert SERVICE_PASSWORD not in seen


def test_bad_ldap_settings_are_refused_when_configured(app, api, ldap_directory):  # noqa: F811
    admin_api = api["root"]
    bad = {**ldap_directory.settings(), "base_dn": "people"}
    answer = admin_api.post(
        "/api/v1/admin/applications",
        {"key": "dir", "name": "Directory", "kind": "connected", "connector": bad},
    )
    assert answer.status_code == 422
    problem = answer.get_json()
    assert problem["field"] == "connector" and "'base_dn' is not a valid DN" in problem["detail"]
    assert SERVICE_PASSWORD not in answer.get_data(as_text=True)
    no_password = {**ldap_directory.settings(), "bind_password": None}
    answer = admin_api.post(
        "/api/v1/admin/applications",
        {"key": "dir", "name": "Directory", "kind": "connected", "connector": no_password},
    )
    assert answer.status_code == 422 and "go together" in answer.get_json()["detail"]

    entry = {"key": "dir", "kind": "connected", "connector": {**bad, "disable_strategy": "move"}}
    with pytest.raises(Invalid) as info:
        act(import_directory, {"applications": [entry]})
    assert "applications[0] (dir): connector: 'disabled_dn' is required" in info.value.detail
    assert find_application("dir") is None


def test_an_admin_page_shows_an_ldap_app_tests_it_and_keeps_its_settings(
    client,  # noqa: F811
    root,  # noqa: F811
    ldap_directory,  # noqa: F811
):
    connect_wiki_to_ldap(ldap_directory)
    page = client.get("/admin/applications/wiki")
    assert page.status_code == 200 and ldap_directory.people in page.text
    tested = post(client, root, "/admin/applications/wiki/test")
    assert tested.status_code == 200, tested.text
    assert "Connection works" in tested.text and "dn:cn=accessflow" in tested.text

    # The page's connector form has SCIM fields only: it must not turn the app into SCIM.
    refused = post(client, root, "/admin/applications/wiki/connector", base_url="http://x/scim")
    assert refused.status_code == 422 and "through the API" in refused.text
    db.session.expire_all()
    assert application_by_key("wiki").connector_settings["type"] == "ldap"
    for answer in (page, tested, refused):
        assert SERVICE_PASSWORD not in answer.text
