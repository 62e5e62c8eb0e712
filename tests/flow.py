"""Small steps tests compose into stories: submit a cart, find an item's open task, decide it.

Each step is one use case in a unit of work of its own, as an entry point would run it."""

from sqlalchemy import select

from engine.db import db
from engine.models import HumanTask
from engine.requests import cart
from engine.tasks import actions
from engine.unit_of_work import unit_of_work


def act(service, *args, **kwargs):
    """Call one service function as an entry point does: in a unit of work, committed."""
    with unit_of_work():
        return service(*args, **kwargs)


def submit(requester, *lines, idempotency_key=None):
    """Submit a cart of (application, beneficiary username) lines; returns the request."""
    with unit_of_work():
        for application, beneficiary in lines:
            cart.add_to_cart(requester, application, beneficiary, justification="needed for work")
        return cart.submit_cart(requester, idempotency_key)


def open_task(item):
    return db.session.scalar(
        select(HumanTask).where(HumanTask.item_id == item.id, HumanTask.status == "open")
    )


def decide(user, item, decision="approve", **extra):
    return act(actions.complete_task, user, open_task(item).id, decision, **extra)
