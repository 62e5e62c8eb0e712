"""Notices: people told about changes to their access, through the outbox the worker sends.

Mail goes to a real SMTP server (aiosmtpd on loopback); the rows are checked as well as what
arrived: both parts of each message, the link to the item, exactly one copy."""

import threading
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from api.worker import Worker
from engine.access import grants, groups
from engine.access.people import deactivate
from engine.audit import notices
from engine.db import db, utcnow
from engine.directory.importer import import_directory
from engine.directory.lookup import application_by_key
from engine.models import Group, Notice, RequestItem
from tests import provisioning_support as support
from tests.flow import act, decide, submit
from tests.scim_server import free_port

smtp_inbox = support.smtp_inbox
Inbox = support.Inbox

BASE_URL = "https://access.example.com"


@pytest.fixture
def mail_to(app):
    """Point the app's mail at a port and links at BASE_URL; returns the setter."""

    def point(port):
        app.config.update(SMTP_PORT=port, MAIL_FROM="accessflow@example.com", BASE_URL=BASE_URL)

    return point


def new_group(name, *apps):
    with_apps = [{"application": key} for key in apps]
    act(import_directory, {"groups": [{"name": name, "members": [], "applications": with_apps}]})
    return db.session.scalar(select(Group).where(Group.name == name))


def item_for(person, app_key):
    app = application_by_key(app_key)
    return db.session.scalars(
        select(RequestItem)
        .where(RequestItem.beneficiary_id == person.id, RequestItem.application_id == app.id)
        .order_by(RequestItem.created_at.desc())
    ).first()


def run_worker(app):
    db.session.rollback()
    Worker(app).run_until_idle(timeout=30)
    db.session.rollback()
    db.session.expire_all()


def all_notices():
    return db.session.scalars(select(Notice).order_by(Notice.created_at, Notice.id)).all()


def parts(message):
    """{content type: decoded text} of a multipart message."""
    return {
        part.get_content_type(): part.get_payload(decode=True).decode()
        for part in message.walk()
        if not part.is_multipart()
    }


def to(inbox, address):
    return [m for m in inbox.messages if m["X-Envelope-To"] == address]


def test_a_group_grant_fulfilled_mails_the_beneficiary_text_html_and_link(
    app, people, smtp_inbox, mail_to
):
    inbox, port = smtp_inbox
    mail_to(port)
    alice = people["alice"]
    new_group("sales", "crm")
    act(groups.add_member, people["root"], "sales", "alice")
    item = item_for(alice, "crm")
    assert all_notices() == []  # a task for the fulfillers is not announced

    decide(people["fred"], item, account_id="CRM-77")

    [notice] = all_notices()  # written with the change, before any worker ran
    assert (notice.kind, notice.status, notice.recipient_email, notice.item_id) == (
        "access_granted",
        "pending",
        "alice@example.com",
        item.id,
    )
    run_worker(app)
    [message] = inbox.wait_for(1)
    assert message["X-Envelope-To"] == "alice@example.com"
    assert message["From"] == "accessflow@example.com"
    assert message["Subject"] == "You now have access to CRM"
    assert message.get_content_type() == "multipart/alternative"
    body = parts(message)
    assert set(body) == {"text/plain", "text/html"}
    link = f"{BASE_URL}/items/{item.id}"
    for text in body.values():
        assert "You now have access to CRM" in text
        assert "the group sales" in text and "CRM-77" in text
        assert link in text
    assert f'href="{link}"' in body["text/html"]
    assert "wiki-secret-token" not in message.as_string()
    db.session.refresh(notice)
    assert (notice.status, notice.attempts, notice.last_error) == ("sent", 1, None)
    assert notice.sent_at is not None

    run_worker(app)  # sent once: a later poll sends nothing again
    assert len(inbox.wait_for(2, timeout=0.5)) == 1


def test_an_admin_assignment_names_who_assigned_it(app, people, smtp_inbox, mail_to):
    inbox, port = smtp_inbox
    mail_to(port)
    act(grants.assign_users, people["root"], "crm", ["bob"], reason="covers sales")
    decide(people["fred"], item_for(people["bob"], "crm"), account_id="CRM-9")

    run_worker(app)

    [message] = inbox.wait_for(1)
    assert message["X-Envelope-To"] == "bob@example.com"
    assert "assigned by Rita Root" in parts(message)["text/plain"]


def test_a_leaver_s_manager_gets_the_summary_then_each_removal(app, people, smtp_inbox, mail_to):
    inbox, port = smtp_inbox
    mail_to(port)
    alice, root = people["alice"], people["root"]
    new_group("sales", "crm")
    act(groups.add_member, root, "sales", "alice")
    decide(people["fred"], item_for(alice, "crm"), account_id="CRM-1")
    run_worker(app)
    assert [m["Subject"] for m in inbox.wait_for(1)] == ["You now have access to CRM"]

    act(deactivate, root, "alice", "contract ended")
    run_worker(app)

    [summary] = to(inbox, "mark@example.com")
    assert summary["Subject"] == "Alice Archer has left: access being removed"
    text = parts(summary)["text/plain"]
    assert "Alice Archer (alice) was deactivated by Rita Root: contract ended." in text
    assert "CRM: account CRM-1 is being removed" in text
    assert "items/" not in text  # no single item to link to

    removal = item_for(alice, "crm")
    decide(people["fiona"], removal)  # "Remove the account": not announced to anyone
    assert removal.status == "fulfilled"
    run_worker(app)

    [_, removed] = to(inbox, "mark@example.com")
    assert removed["Subject"] == "Access to CRM was removed for Alice Archer"
    assert "CRM-1" in parts(removed)["text/plain"]
    # Alice left: her address is not told about the removal (only her grant reached her).
    assert len(to(inbox, "alice@example.com")) == 1
    assert len(inbox.messages) == 3


def test_a_removal_tells_the_beneficiary_who_is_still_here(app, people, smtp_inbox, mail_to):
    inbox, port = smtp_inbox
    mail_to(port)
    alice, root = people["alice"], people["root"]
    new_group("sales", "crm")
    act(groups.add_member, root, "sales", "alice")
    decide(people["fred"], item_for(alice, "crm"), account_id="CRM-1")
    act(groups.remove_member, root, "sales", "alice", "moved to support")
    decide(people["fiona"], item_for(alice, "crm"))

    run_worker(app)

    [_, removed] = inbox.wait_for(2)
    assert (removed["X-Envelope-To"], removed["Subject"]) == (
        "alice@example.com",
        "Access to CRM was removed",
    )
    assert to(inbox, "mark@example.com") == []  # not a leaver: the manager is not told


def test_a_person_without_an_address_is_skipped_and_it_is_recorded(
    app, people, smtp_inbox, mail_to
):
    inbox, port = smtp_inbox
    mail_to(port)
    people["bob"].email = None
    db.session.commit()
    new_group("sales", "crm")
    act(groups.add_member, people["root"], "sales", "bob")
    decide(people["fred"], item_for(people["bob"], "crm"), account_id="CRM-2")

    run_worker(app)

    [notice] = all_notices()
    assert (notice.status, notice.last_error, notice.sent_at) == (
        "skipped",
        notices.NO_ADDRESS,
        None,
    )
    assert inbox.wait_for(1, timeout=0.3) == []


def test_smtp_down_keeps_the_notice_and_it_goes_out_once_smtp_is_back(app, people, mail_to):
    port = free_port()  # nobody listens yet
    mail_to(port)
    new_group("sales", "crm")
    act(groups.add_member, people["root"], "sales", "bob")
    decide(people["fred"], item_for(people["bob"], "crm"), account_id="CRM-3")

    run_worker(app)

    [notice] = all_notices()
    assert (notice.status, notice.attempts, notice.sent_at) == ("pending", 1, None)
    assert "Connection refused" in notice.last_error or "ConnectionRefused" in notice.last_error
    assert notice.due_at > utcnow() + timedelta(seconds=notices.BACKOFF_BASE_SECONDS / 2)

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        run_worker(app)  # the server is back, but the notice waits for its backoff
        assert inbox.wait_for(1, timeout=0.3) == []
        db.session.execute(update(Notice).values(due_at=utcnow()))  # time passes
        db.session.commit()

        run_worker(app)

        [message] = inbox.wait_for(1)
        assert message["X-Envelope-To"] == "bob@example.com"
        db.session.refresh(notice)
        assert (notice.status, notice.attempts) == ("sent", 2)
        run_worker(app)
        assert len(inbox.wait_for(2, timeout=0.5)) == 1
    finally:
        controller.stop()


def test_a_notice_that_keeps_failing_is_given_up_with_its_error(app, people, mail_to):
    mail_to(free_port())
    act(notices.queue, people["bob"], "test", "Hello", "text", "<p>html</p>")
    for _ in range(notices.MAX_ATTEMPTS):
        db.session.execute(update(Notice).values(due_at=utcnow()))
        db.session.commit()
        run_worker(app)

    [notice] = all_notices()
    assert (notice.status, notice.attempts) == ("failed", notices.MAX_ATTEMPTS)
    assert notice.last_error


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_workers_sending_at_once_send_each_notice_exactly_once(
    app, people, smtp_inbox, mail_to
):
    inbox, port = smtp_inbox
    mail_to(port)
    recipients = [people[name] for name in ("alice", "bob", "gina", "fred", "fiona", "stan")]
    for round_ in range(10):
        act(
            lambda: [
                notices.queue(person, "test", f"notice {round_}/{person.username}", "t", "<p>h</p>")
                for person in recipients
            ]
        )
    db.session.remove()
    workers = [Worker(app, worker_id=f"w{n}", batch=3) for n in range(2)]
    start = threading.Barrier(len(workers), timeout=30)
    taken = [0] * len(workers)

    def run(index):
        start.wait()
        taken[index] = workers[index].send_notices()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    messages = inbox.wait_for(60)
    subjects = sorted(m["Subject"] for m in messages)
    assert len(subjects) == 60 and len(set(subjects)) == 60
    assert sum(taken) == 60  # every notice taken once: nobody took one twice
    assert {n.status for n in all_notices()} == {"sent"}
    assert {n.attempts for n in all_notices()} == {1}


def test_a_cart_request_done_tells_the_person_their_account_and_the_requester(
    app, people, smtp_inbox, mail_to
):
    inbox, port = smtp_inbox
    mail_to(port)
    item = submit(people["alice"], ("crm", "bob")).items[0]
    decide(people["mark"], item)
    decide(people["gina"], item)
    assert all_notices() == []  # an approval on the way is no news to the people of the item

    decide(people["fred"], item, account_id="CRM-bob-1")
    run_worker(app)

    messages = inbox.wait_for(2)
    assert len(messages) == 2
    [to_bob] = to(inbox, "bob@example.com")
    [to_alice] = to(inbox, "alice@example.com")
    assert to_bob["Subject"] == "You now have access to CRM"
    bob_text = parts(to_bob)["text/plain"]
    assert "CRM-bob-1" in bob_text and "a request by Alice Archer" in bob_text
    assert to_alice["Subject"] == "Your request for CRM for Bob Baker is done"
    assert f"{BASE_URL}/items/{item.id}" in parts(to_alice)["text/plain"]


def test_a_rejected_request_tells_both_why(app, people, smtp_inbox, mail_to):
    inbox, port = smtp_inbox
    mail_to(port)
    item = submit(people["alice"], ("crm", "bob")).items[0]
    decide(people["mark"], item, "reject", comment="Bob moves to another team next week")
    run_worker(app)

    inbox.wait_for(2)
    [to_bob] = to(inbox, "bob@example.com")
    [to_alice] = to(inbox, "alice@example.com")
    assert to_bob["Subject"] == "Request for CRM rejected"
    assert to_alice["Subject"] == "Your request for CRM for Bob Baker was rejected"
    for message in (to_bob, to_alice):
        assert "Bob moves to another team next week" in parts(message)["text/plain"]
