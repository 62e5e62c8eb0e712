"""Concurrent people on one task or one instance: exactly one wins, nobody's write is lost."""

import threading

import pytest
from sqlalchemy import select

from engine.db import db, utcnow
from engine.directory.importer import import_directory
from engine.directory.lookup import user_by_username
from engine.errors import Conflict
from engine.models import HumanTask, ProcessInstance
from engine.tasks import actions
from engine.unit_of_work import unit_of_work
from engine.workflow import runtime
from tests.flow import act, decide, open_task, submit

CLAIMERS = [f"fulfiller{n:02d}" for n in range(20)]


def _run_together(app, names, action):
    """Run action(user) for each name in its own thread and session, all released at once."""
    start = threading.Barrier(len(names), timeout=30)
    outcomes = {}

    def worker(name):
        with app.app_context():
            user = user_by_username(name)
            db.session.commit()  # hand the connection back: 20 threads share a pool of 15
            start.wait()
            try:
                with unit_of_work():
                    action(user)
                outcomes[name] = "won"
            except Conflict:
                outcomes[name] = "conflict"
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_twenty_fulfillers_claim_one_task_and_exactly_one_wins(app, people):
    act(
        import_directory,
        {
            "users": [{"username": name, "manager": "mark"} for name in CLAIMERS],
            "groups": [{"name": "it-fulfillers", "members": ["fred", "fiona", *CLAIMERS]}],
        },
    )
    item = submit(people["alice"], ("crm", "alice")).items[0]
    decide(people["mark"], item)
    decide(people["gina"], item)
    task_id = open_task(item).id
    db.session.remove()

    outcomes = _run_together(app, CLAIMERS, lambda user: actions.claim_task(user, task_id))

    winners = [name for name, outcome in outcomes.items() if outcome == "won"]
    assert len(outcomes) == 20
    assert len(winners) == 1
    holder = db.session.scalar(select(HumanTask.claimed_by_id).where(HumanTask.id == task_id))
    assert holder == people[winners[0]].id


def test_a_stale_instance_write_is_a_conflict_not_a_lost_update(app, people, monkeypatch):
    item = submit(people["alice"], ("crm", "alice")).items[0]
    task_id = open_task(item).id
    load = runtime.load_workflow

    def load_while_someone_else_writes(instance):
        workflow = load(instance)
        with app.app_context():  # another request, its own session, commits first
            other = db.session.get(ProcessInstance, instance.id)
            other.updated_at = utcnow()
            db.session.commit()
        return workflow

    monkeypatch.setattr(runtime, "load_workflow", load_while_someone_else_writes)
    with pytest.raises(Conflict, match="changed meanwhile"), unit_of_work():
        actions.complete_task(people["mark"], task_id, "approve")
    monkeypatch.undo()

    db.session.expire_all()
    assert db.session.get(HumanTask, task_id).status == "open"  # nothing half-applied
    act(actions.complete_task, people["mark"], task_id, "approve")  # and a fresh try succeeds
    assert open_task(item).lane == "ApproverGroup"
