"""The transaction boundary: one commit per use case, nothing half-applied, hooks after commit."""

import threading

import pytest
from sqlalchemy import select

from engine.db import db, utcnow
from engine.errors import Conflict, Invalid, StaleWrite
from engine.models import CartItem, HumanTask, ProcessInstance
from engine.requests import cart
from engine.tasks import actions
from engine.unit_of_work import current_unit, unit_of_work
from tests.flow import open_task, submit


def _lines(user) -> int:
    db.session.expire_all()
    return len(db.session.scalars(select(CartItem).where(CartItem.owner_id == user.id)).all())


def test_a_nested_unit_joins_the_outer_one_and_commits_only_with_it(people):
    alice = people["alice"]
    with pytest.raises(Invalid), unit_of_work() as outer:
        with unit_of_work() as inner:
            cart.add_to_cart(alice, "crm")
        assert inner is outer and current_unit() is outer
        raise Invalid("the outer use case refuses")
    assert current_unit() is None
    assert _lines(alice) == 0  # the inner block did not commit on its own


def test_a_domain_error_rolls_back_everything_the_unit_did(people):
    alice = people["alice"]
    with pytest.raises(Invalid, match="account_mode"), unit_of_work():
        cart.add_to_cart(alice, "crm")
        cart.add_to_cart(alice, "crm", "bob", account_mode="bogus")
    assert _lines(alice) == 0  # the first line is not half-applied
    with unit_of_work():
        cart.add_to_cart(alice, "crm")
    assert _lines(alice) == 1


def test_a_stale_write_becomes_a_conflict(app, people):
    item = submit(people["alice"], ("crm", "alice")).items[0]
    with pytest.raises(StaleWrite, match="changed meanwhile"), unit_of_work():
        instance = db.session.scalar(
            select(ProcessInstance).where(ProcessInstance.item_id == item.id)
        )
        with app.app_context():  # another request commits its write first
            other = db.session.get(ProcessInstance, instance.id)
            other.updated_at = utcnow()
            db.session.commit()
        instance.updated_at = utcnow()
    assert issubclass(StaleWrite, Conflict)


def test_after_commit_hooks_run_only_once_the_unit_commits(people):
    ran = []
    with unit_of_work() as uow:
        cart.add_to_cart(people["alice"], "crm")
        uow.after_commit(lambda: ran.append(_lines(people["alice"])))
        assert ran == []
    assert ran == [1]

    with pytest.raises(Invalid), unit_of_work() as uow:
        uow.after_commit(lambda: ran.append("rolled back"))
        raise Invalid("refused")
    assert ran == [1]


def test_two_threads_deciding_one_task_on_postgresql_one_wins_one_conflicts(postgres_copies):
    from api.app import create_app
    from engine.directory.lookup import user_by_username

    # A fresh copy of the prepared database: schema, shipped workflows and the small directory.
    app = create_app({"SQLALCHEMY_DATABASE_URI": postgres_copies.fresh(), "TESTING": True})
    with app.app_context():
        item = submit(user_by_username("alice"), ("crm", "alice")).items[0]
        task_id = open_task(item).id
        db.session.remove()
        start, outcomes = threading.Barrier(2, timeout=30), []

        def decide(decision):
            with app.app_context():
                mark = user_by_username("mark")
                task = db.session.get(HumanTask, task_id)
                assert task.status == "open" and db.session.get(ProcessInstance, task.instance_id)
                start.wait()  # both have read the task and the instance: one write goes stale
                try:
                    with unit_of_work():
                        actions.complete_task(mark, task_id, decision)
                    outcomes.append("won")
                except Conflict:
                    outcomes.append("conflict")
                finally:
                    db.session.remove()

        threads = [threading.Thread(target=decide, args=(d,)) for d in ("approve", "reject")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        try:
            assert sorted(outcomes) == ["conflict", "won"]
            decided = db.session.scalars(
                select(HumanTask).where(HumanTask.id == task_id, HumanTask.status == "completed")
            ).all()
            assert len(decided) == 1
        finally:
            db.session.remove()
            db.drop_all()
            db.engine.dispose()
