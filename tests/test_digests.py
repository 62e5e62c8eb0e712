"""New tasks mailed to the people they wait on: one digest per person per interval, through
the outbox, to a real SMTP server (aiosmtpd on loopback). Time is moved by rewriting when the
last digest went, never by sleeping."""

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from api.worker import Worker
from engine.audit import digests
from engine.db import db, utcnow
from engine.directory.importer import import_directory
from engine.models import Notice, User
from tests import provisioning_support as support
from tests.api_client import api  # noqa: F401
from tests.flow import act, decide, open_task, submit

smtp_inbox = support.smtp_inbox
BASE_URL = "https://access.example.com"


@pytest.fixture
def worker(app, smtp_inbox):
    """A worker whose mail goes to the test's SMTP server; digests every hour."""
    _, port = smtp_inbox
    app.config.update(SMTP_PORT=port, BASE_URL=BASE_URL, DIGEST_INTERVAL="PT1H")
    return Worker(app)


def poll(worker):
    """One poll of the digest and notice jobs, as the scheduler runs them."""
    db.session.rollback()
    written = worker.write_digests()
    worker.send_notices()
    db.session.rollback()
    db.session.expire_all()
    return written


def digests_to(username):
    user = db.session.scalar(select(User).where(User.username == username))
    return db.session.scalars(
        select(Notice).where(Notice.recipient_id == user.id, Notice.kind == "task_digest")
    ).all()


def an_hour_passes(username):
    db.session.execute(
        update(User)
        .where(User.username == username)
        .values(last_digest_at=utcnow() - timedelta(hours=2))
    )
    db.session.commit()


def test_new_tasks_reach_the_manager_in_one_digest_with_a_link_to_each(people, worker, smtp_inbox):
    inbox, _ = smtp_inbox
    request = submit(people["alice"], ("crm", "alice"), ("crm", "bob"))
    tasks = [open_task(item) for item in request.items]

    assert poll(worker) == 1
    [message] = inbox.wait_for(1)
    assert message["X-Envelope-To"] == "mark@example.com"
    assert message["Subject"] == "2 new tasks in accessflow"
    text = next(
        part.get_payload(decode=True).decode()
        for part in message.walk()
        if part.get_content_type() == "text/plain"
    )
    for task in tasks:
        assert f"{BASE_URL}/tasks/{task.id}" in text
    assert "for alice" in text and "for bob" in text

    assert poll(worker) == 0  # nothing new: no second mail
    assert len(inbox.wait_for(2, timeout=0.5)) == 1


def test_a_second_task_waits_for_the_interval_then_comes_alone(people, worker):
    first = submit(people["alice"], ("crm", "alice")).items[0]
    poll(worker)
    second = submit(people["alice"], ("crm", "bob")).items[0]

    assert poll(worker) == 0  # owed, but the hour has not passed
    assert len(digests_to("mark")) == 1
    an_hour_passes("mark")
    assert poll(worker) == 1
    latest = digests_to("mark")[-1]
    assert open_task(second).id in latest.body_text
    assert open_task(first).id not in latest.body_text


def test_a_group_task_goes_to_every_member_but_the_people_of_the_item(people, worker):
    act(import_directory, {"groups": [{"name": "crm-approvers", "members": ["gina", "stan"]}]})
    item = submit(people["stan"], ("crm", "alice")).items[0]  # stan asks for alice
    poll(worker)
    decide(people["mark"], item)

    an_hour_passes("mark")
    poll(worker)
    group_task = open_task(item)
    [to_gina] = digests_to("gina")
    assert group_task.id in to_gina.body_text
    assert digests_to("stan") == []  # he requested it: it is not his to decide
    assert digests_to("alice") == []


def test_what_someone_else_decided_meanwhile_is_left_out(people, worker):
    act(import_directory, {"groups": [{"name": "crm-approvers", "members": ["gina", "stan"]}]})
    item = submit(people["alice"], ("crm", "alice")).items[0]
    decide(people["mark"], item)
    db.session.execute(update(User).values(last_digest_at=utcnow()))  # everyone just had one
    db.session.commit()
    poll(worker)  # gina and stan are owed a digest, not yet due
    decide(people["gina"], item)

    an_hour_passes("stan")
    poll(worker)
    assert digests_to("stan") == []  # the task is gone: no mail about nothing
    assert (
        db.session.scalar(select(User.digest_pending_since).where(User.username == "stan")) is None
    )


def test_preferences_none_and_immediate(people, worker):
    act(digests.set_preference, people["mark"], "none")
    submit(people["alice"], ("crm", "alice"))
    poll(worker)
    assert digests_to("mark") == []

    act(digests.set_preference, people["mark"], "immediate")
    db.session.execute(update(User).where(User.username == "mark").values(last_digest_at=utcnow()))
    db.session.commit()
    submit(people["alice"], ("crm", "bob"))
    assert poll(worker) == 1  # at once, whatever the interval
    assert len(digests_to("mark")) == 1


def test_a_second_worker_polling_writes_no_second_digest(app, people, worker):
    submit(people["alice"], ("crm", "alice"))
    other = Worker(app)
    with app.app_context():
        db.session.rollback()
        assert other.write_digests() + worker.write_digests() == 1
    db.session.rollback()
    assert len(digests_to("mark")) == 1


def test_a_bad_interval_stops_the_worker_at_start(app):
    app.config.update(DIGEST_INTERVAL="every hour")
    with pytest.raises(ValueError, match="ACCESSFLOW_DIGEST_INTERVAL"):
        Worker(app)


def test_the_preference_over_the_api(api, people):  # noqa: F811
    mark = api["mark"]
    assert mark.get("/api/v1/me").get_json()["task_notices"] == "digest"
    answer = mark.call("PATCH", "/api/v1/me/preferences", json={"task_notices": "none"})
    assert answer.status_code == 200 and answer.get_json()["task_notices"] == "none"
    bad = mark.call("PATCH", "/api/v1/me/preferences", json={"task_notices": "loud"})
    assert bad.status_code == 422
