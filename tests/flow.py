"""Small steps tests compose into stories: submit a cart, find an item's open task, decide it."""

from sqlalchemy import select

from engine import cart, tasks
from engine.db import db
from engine.models import HumanTask


def submit(requester, *lines, idempotency_key=None):
    """Submit a cart of (application, beneficiary username) lines; returns the request."""
    for application, beneficiary in lines:
        cart.add_to_cart(requester, application, beneficiary, justification="needed for work")
    return cart.submit_cart(requester, idempotency_key)


def open_task(item):
    return db.session.scalar(
        select(HumanTask).where(HumanTask.item_id == item.id, HumanTask.status == "open")
    )


def decide(user, item, decision="approve", **extra):
    return tasks.complete_task(user, open_task(item).id, decision, **extra)
