"""Time-bound access: a request asks for an end date, the assignment ends on it by itself, the
holder and their manager are reminded before, and a renewal moves the end.

Time moves by the clock the scans are given (`now`), never by sleeping. Connected applications
run against a real SCIM server (scim2-server), reminders go through real SMTP (aiosmtpd)."""

import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from api.worker import Worker
from engine.access import assignments, expiry, groups
from engine.db import db, utcnow
from engine.directory.importer import import_directory
from engine.directory.lookup import application_by_key
from engine.errors import Invalid
from engine.models import Account, Assignment, AuditEvent, Notice, RequestItem
from engine.requests import cart
from engine.requests.end_dates import describe
from tests import provisioning_support as support
from tests import scim_server as server_plugin
from tests.flow import act, decide, open_task
from tests.provisioning_support import connect_wiki, scim_users

scim_server_process = server_plugin.scim_server_process
scim_server = server_plugin.scim_server
smtp_inbox = support.smtp_inbox
BASE_URL = "https://access.example.com"


def in_days(days: int) -> str:
    return (date.today() + timedelta(days=days)).isoformat()


def limit_crm(max_duration="P90D", require_end_date=False):
    app = application_by_key("crm")
    app.max_duration, app.require_end_date = max_duration, require_end_date
    db.session.commit()


def ask(requester, application, beneficiary, end_date, account_mode="create", **extra):
    act(
        cart.add_to_cart,
        requester,
        application,
        beneficiary,
        account_mode,
        "project",
        **extra,
        end_date=end_date,
    )
    return act(cart.submit_cart, requester).items[0]


def granted_crm(people, person="bob", end_date=None, account_id="CRM-1"):
    """bob's CRM request, approved and fulfilled with an account recorded."""
    item = ask(people["alice"], "crm", person, end_date or in_days(10))
    decide(people["mark"], item)
    decide(people["gina"], item)
    decide(people["fred"], item, account_id=account_id)
    return item


def active_assignment(person, app_key):
    [assignment] = assignments.active(person.id, application_by_key(app_key).id)
    return assignment


def scan(app, now):
    """One expiry poll of the worker at `now` (its own units of work), then a fresh session."""
    db.session.rollback()
    Worker(app).expire_access(now=now)
    db.session.expire_all()


def items_for(person, app_key):
    app = application_by_key(app_key)
    return db.session.scalars(
        select(RequestItem)
        .where(RequestItem.beneficiary_id == person.id, RequestItem.application_id == app.id)
        .order_by(RequestItem.created_at)
    ).all()


# ---- asking for an end date


def test_an_end_date_beyond_the_application_maximum_is_refused_at_add_to_cart(people):
    limit_crm("P90D")
    with pytest.raises(Invalid) as refused:
        cart.add_to_cart(people["alice"], "crm", "bob", end_date=in_days(120))
    assert refused.value.extra["field"] == "end_date"
    assert "at most P90D" in refused.value.detail
    cart.add_to_cart(people["alice"], "crm", "bob", end_date=in_days(90))  # the limit's own day


def test_an_end_date_in_the_past_or_not_a_date_is_refused(people):
    for wrong, says in ((in_days(-1), "in the past"), ("next week", "ISO 8601")):
        with pytest.raises(Invalid) as refused:
            cart.add_to_cart(people["alice"], "crm", "bob", end_date=wrong)
        assert refused.value.extra["field"] == "end_date" and says in refused.value.detail


def test_an_application_that_requires_an_end_date_refuses_a_line_without_one(people):
    limit_crm(None, require_end_date=True)
    with pytest.raises(Invalid) as refused:
        cart.add_to_cart(people["alice"], "crm", "bob")
    assert refused.value.extra["field"] == "end_date"
    assert "limited time" in refused.value.detail


def test_a_line_that_broke_the_rules_since_it_was_added_is_refused_at_submit(people):
    act(cart.add_to_cart, people["alice"], "crm", "bob", end_date=in_days(60))
    limit_crm("P30D")  # the application's maximum shrank meanwhile
    [line] = cart.list_cart(people["alice"])
    with pytest.raises(Invalid) as refused:
        act(cart.submit_cart, people["alice"])
    assert refused.value.extra["field"] == "end_date"
    assert refused.value.extra["line"] == line.id
    assert [x.id for x in cart.list_cart(people["alice"])] == [line.id]  # nothing lost


# ---- the assignment ends on that date


def test_a_fulfilled_item_with_an_end_date_gives_an_assignment_that_ends_then(people):
    item = granted_crm(people, end_date=in_days(10))
    assert item.status == "fulfilled"
    ends = active_assignment(people["bob"], "crm").ends_at
    assert ends == item.ends_at
    assert ends.date() == date.today() + timedelta(days=11)  # through the 10th day, UTC


def test_the_scan_after_the_end_date_hands_the_removal_to_the_fulfillers(app, people):
    granted_crm(people, end_date=in_days(3))
    assignment = active_assignment(people["bob"], "crm")

    scan(app, assignment.ends_at - timedelta(seconds=1))  # not yet
    assert assignments.active(people["bob"].id)
    scan(app, assignment.ends_at + timedelta(seconds=1))

    ended = db.session.get(Assignment, assignment.id)
    assert (ended.ended_reason, ended.ended_by_id) == ("expired", None)
    removal = items_for(people["bob"], "crm")[-1]
    assert (removal.origin, removal.kind) == ("expiry", "remove")
    assert open_task(removal).title == "Remove the account"
    decide(people["fiona"], removal)
    account = db.session.scalar(select(Account).where(Account.user_id == people["bob"].id))
    assert account.status == "removed"
    audit = db.session.scalar(
        select(AuditEvent).where(
            AuditEvent.event == "access_unassigned", AuditEvent.comment == "expired"
        )
    )
    assert audit.actor_id is None and audit.details["assignment_id"] == assignment.id


def test_a_connected_account_is_disabled_in_the_target_when_the_access_expires(
    app, people, scim_server
):
    connect_wiki(scim_server)
    act(cart.add_to_cart, people["alice"], "wiki", "bob", end_date=in_days(5))
    item = act(cart.submit_cart, people["alice"]).items[0]
    decide(people["mark"], item)
    decide(people["gina"], item)
    db.session.rollback()
    Worker(app).run_until_idle(timeout=30)
    db.session.expire_all()
    assert [u["active"] for u in scim_users(scim_server)] == [True]

    scan(app, active_assignment(people["bob"], "wiki").ends_at + timedelta(minutes=1))
    db.session.rollback()
    Worker(app).run_until_idle(timeout=30)
    db.session.expire_all()

    assert [u["active"] for u in scim_users(scim_server)] == [False]
    assert items_for(people["bob"], "wiki")[-1].status == "fulfilled"


def test_another_source_still_granting_keeps_the_access(app, people):
    granted_crm(people, end_date=in_days(3))
    act(
        import_directory,
        {"groups": [{"name": "sales", "members": [], "applications": [{"application": "crm"}]}]},
    )
    act(groups.add_member, people["root"], "sales", "bob")
    request_grant = db.session.scalar(
        select(Assignment).where(Assignment.source == "request", Assignment.ended_at.is_(None))
    )

    scan(app, request_grant.ends_at + timedelta(hours=1))

    assert [a.source for a in assignments.active(people["bob"].id)] == ["group"]
    assert [i.kind for i in items_for(people["bob"], "crm")] == ["grant"]  # no removal
    assert db.session.scalar(select(Account.status)) == "active"


def test_an_admin_assignment_with_an_end_date_expires_too(app, people):
    from engine.access import grants

    act(grants.assign_users, people["root"], "crm", ["bob"], ends_at=utcnow() + timedelta(days=2))
    decide(people["fred"], items_for(people["bob"], "crm")[0], account_id="CRM-9")
    scan(app, utcnow() + timedelta(days=3))
    assert assignments.active(people["bob"].id) == []
    assert items_for(people["bob"], "crm")[-1].origin == "expiry"


def test_two_workers_expire_one_assignment_once(app, people, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("the race needs two connections writing at once (PostgreSQL)")
    for person, external in (("bob", "B-1"), ("alice", "A-1"), ("stan", "S-1")):
        granted_crm(people, person=person, end_date=in_days(2), account_id=external)
    later = utcnow() + timedelta(days=4)
    db.session.rollback()
    counts = []
    barrier = threading.Barrier(2)

    def run():
        with app.app_context():
            barrier.wait()
            counts.append(Worker(app).expire_access(now=later)[0])

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(counts) == 3
    removals = db.session.scalars(select(RequestItem).where(RequestItem.origin == "expiry")).all()
    assert len(removals) == 3
    ends = db.session.scalars(select(AuditEvent).where(AuditEvent.comment == "expired")).all()
    assert len(ends) == 3


# ---- reminders and renewal


def test_reminders_go_7_and_1_days_before_each_once_to_holder_and_manager(app, people, smtp_inbox):
    inbox, port = smtp_inbox
    app.config.update(SMTP_PORT=port, MAIL_FROM="accessflow@example.com", BASE_URL=BASE_URL)
    granted_crm(people, end_date=in_days(20))
    Worker(app).send_notices()  # what the grant itself announced, before any reminder
    before = len(inbox.messages)
    assignment = active_assignment(people["bob"], "crm")
    ends = assignment.ends_at

    def reminders():
        return [m for m in inbox.messages[before:] if "lasts" in m["Subject"]]

    for now in (ends - timedelta(days=8), ends - timedelta(days=7), ends - timedelta(days=6)):
        scan(app, now)
    Worker(app).send_notices()
    assert sorted(m["X-Envelope-To"] for m in reminders()) == [
        "bob@example.com",
        "mark@example.com",
    ]
    for now in (ends - timedelta(hours=23), ends - timedelta(hours=2)):
        scan(app, now)
    Worker(app).send_notices()

    assert len(inbox.messages) - before == len(reminders()) == 4  # 7 and 1 days, each once
    link = f"{BASE_URL}/access/renew/{assignment.id}"
    for message in reminders()[-2:]:
        body = {
            p.get_content_type(): p.get_payload(decode=True).decode()
            for p in message.walk()
            if not p.is_multipart()
        }
        assert link in body["text/plain"] and link in body["text/html"]
        assert describe(ends) in message["Subject"]  # "through <the last day>"
    assert db.session.get(Assignment, assignment.id).reminder_days == 1
    notices = db.session.scalars(select(Notice).where(Notice.kind == "expiry_reminder")).all()
    assert len(notices) == 4


def test_a_renewal_goes_through_approval_and_moves_the_end(app, people):
    granted_crm(people, end_date=in_days(5))
    first = active_assignment(people["bob"], "crm")

    renewal = ask(people["bob"], "crm", "bob", in_days(40), account_mode="update")
    assert renewal.kind == "update" and renewal.status == "pending_approval"
    decide(people["mark"], renewal)
    decide(people["gina"], renewal)
    decide(people["fred"], renewal, account_id="CRM-1")

    renewed = active_assignment(people["bob"], "crm")
    assert renewed.id != first.id  # rows are never edited: the old one ended, a new one began
    assert renewed.ends_at.date() == date.today() + timedelta(days=41)
    assert db.session.get(Assignment, first.id).ended_reason.startswith("renewed until")
    scan(app, first.ends_at + timedelta(hours=1))  # the old date passes: nothing happens
    assert assignments.active(people["bob"].id)[0].id == renewed.id


def test_expire_due_handles_a_batch_at_a_time(app, people):
    for person, external in (("bob", "B-1"), ("alice", "A-1"), ("stan", "S-1")):
        granted_crm(people, person=person, end_date=in_days(2), account_id=external)
    later = utcnow() + timedelta(days=4)
    assert act(expiry.expire_due, later, 2) == 2
    assert act(expiry.expire_due, later, 2) == 1
    assert act(expiry.expire_due, later, 2) == 0


def test_a_worker_that_was_down_sends_only_the_nearest_reminder(app, people):
    granted_crm(people, end_date=in_days(20))
    assignment = active_assignment(people["bob"], "crm")
    scan(app, assignment.ends_at - timedelta(hours=12))  # inside both windows at once
    reminded = db.session.get(Assignment, assignment.id)
    assert reminded.reminder_days == 1
    sent = db.session.scalars(select(Notice.subject).where(Notice.kind == "expiry_reminder"))
    assert len(sent.all()) == 2  # bob and mark, once
    scan(app, assignment.ends_at - timedelta(hours=6))
    again = db.session.scalars(select(Notice).where(Notice.kind == "expiry_reminder"))
    assert len(again.all()) == 2


def test_the_directory_file_sets_the_maximum_and_the_requirement(people):
    act(
        import_directory,
        {
            "applications": [
                {"key": "crm", "name": "CRM", "max_duration": "P30D", "require_end_date": True}
            ]
        },
    )
    crm = application_by_key("crm")
    assert (crm.max_duration, crm.require_end_date) == ("P30D", True)
    with pytest.raises(Invalid) as refused:
        cart.add_to_cart(people["alice"], "crm", "bob", end_date=in_days(31))
    assert refused.value.extra["field"] == "end_date"


def test_the_worker_schedules_the_expiry_scan_every_poll(app):
    scheduler = Worker(app).scheduler(1.0)
    [job] = [j for j in scheduler.get_jobs() if j.id == "expiry"]
    assert job.trigger.interval == timedelta(seconds=1)
