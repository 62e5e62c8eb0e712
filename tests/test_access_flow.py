"""Stories of a disconnected and a connected access request, through the service functions."""

import pytest
from sqlalchemy import select

from engine.db import db
from engine.errors import Conflict, Invalid, NotAllowed, NotFound
from engine.models import Account, AuditEvent, ProvisioningJob
from engine.requests import cart, items
from engine.tasks import actions
from tests.flow import decide, open_task, submit


def test_disconnected_request_is_fulfilled_by_hand(people):
    alice, mark, gina, fred = people["alice"], people["mark"], people["gina"], people["fred"]
    item = submit(alice, ("crm", "alice")).items[0]
    assert item.status == "pending_approval"
    assert open_task(item).lane == "Manager" and open_task(item).candidate_user_id == mark.id

    decide(mark, item, comment="ok from me")
    assert open_task(item).lane == "ApproverGroup"
    decide(gina, item)
    assert item.status == "pending_fulfillment"
    fulfil = open_task(item)
    assert fulfil.lane == "Fulfiller" and fulfil.kind == "fulfillment"

    actions.claim_task(fred, fulfil.id)
    actions.complete_task(fred, fulfil.id, "approve", account_id="CRM-0042")

    assert item.status == "fulfilled" and item.open_key is None
    account = db.session.get(Account, item.account_id)
    assert (account.user_id, account.external_id) == (alice.id, "CRM-0042")
    events = [e.event for e in items.item_history(item)]
    assert events == [
        "submitted",
        "task_created",
        "approved",
        "task_created",
        "approved",
        "task_created",
        "claimed",
        "fulfilled",
        "access_assigned",
    ]


def test_cart_for_several_colleagues_runs_one_instance_per_item(people):
    alice = people["alice"]
    request = submit(alice, ("crm", "bob"), ("crm", "stan"), ("wiki", "bob"))
    assert [i.beneficiary.username for i in request.items] == ["bob", "stan", "bob"]
    assert all(open_task(i).lane == "Manager" for i in request.items)
    assert cart.list_cart(alice) == []


def test_manager_rejection_ends_the_item_with_the_reason(people):
    item = submit(people["alice"], ("crm", "alice")).items[0]
    decide(people["mark"], item, "reject", comment="not in your role")
    assert item.status == "rejected"
    assert item.outcome_reason == "not in your role"
    assert open_task(item) is None


def test_approver_group_rejection_ends_the_item(people):
    item = submit(people["alice"], ("crm", "alice")).items[0]
    decide(people["mark"], item)
    decide(people["gina"], item, "reject", comment="licence budget spent")
    assert (item.status, item.outcome_reason) == ("rejected", "licence budget spent")


def test_fulfiller_can_reject_instead_of_creating(people):
    item = submit(people["alice"], ("crm", "alice")).items[0]
    decide(people["mark"], item)
    decide(people["gina"], item)
    decide(people["fiona"], item, "reject", comment="CRM is being retired")
    assert item.status == "rejected" and item.account_id is None


def test_connected_request_queues_a_provisioning_job(people):
    item = submit(people["alice"], ("wiki", "alice")).items[0]
    decide(people["mark"], item)
    decide(people["gina"], item)
    assert item.status == "provisioning"
    job = db.session.scalar(select(ProvisioningJob).where(ProvisioningJob.item_id == item.id))
    assert (job.operation, job.params, job.status) == (
        "provision",
        {"operation": "create"},
        "pending",
    )
    assert open_task(item) is None


def test_fulfilment_without_account_id_is_refused(people):
    item = submit(people["alice"], ("crm", "alice")).items[0]
    decide(people["mark"], item)
    decide(people["gina"], item)
    with pytest.raises(Invalid, match="account_id"):
        decide(people["fred"], item)
    assert item.status == "pending_fulfillment"


def test_second_fulfiller_cannot_claim_a_claimed_task(people):
    item = submit(people["alice"], ("crm", "alice")).items[0]
    decide(people["mark"], item)
    decide(people["gina"], item)
    task = open_task(item)
    actions.claim_task(people["fred"], task.id)
    with pytest.raises(Conflict):
        actions.claim_task(people["fiona"], task.id)
    with pytest.raises(Conflict):
        actions.complete_task(people["fiona"], task.id, "approve", account_id="x")
    actions.release_task(people["fred"], task.id)
    assert actions.claim_task(people["fiona"], task.id).claimed_by_id == people["fiona"].id


def test_a_decided_task_cannot_be_decided_again(people):
    item = submit(people["alice"], ("crm", "alice")).items[0]
    task = open_task(item)
    actions.complete_task(people["mark"], task.id, "approve")
    with pytest.raises(Conflict):
        actions.complete_task(people["mark"], task.id, "reject")


def test_nobody_approves_their_own_request(people):
    mark, gina = people["mark"], people["gina"]
    # mark asks for bob: mark is bob's manager but also the requester, so admins approve.
    item = submit(mark, ("crm", "bob")).items[0]
    task = open_task(item)
    assert task.candidate_user_id is None and task.candidate_group_id is not None
    with pytest.raises(NotAllowed, match="requested"):
        actions.complete_task(mark, task.id, "approve")
    decide(people["root"], item)
    # gina is the only crm approver; for her own access the approval falls to admins.
    other = submit(people["alice"], ("crm", "gina")).items[0]
    decide(mark, other)
    group_task = open_task(other)
    assert group_task.candidate_group_id != gina.groups[0].id
    with pytest.raises(NotAllowed, match="for themselves"):
        actions.complete_task(gina, group_task.id, "approve")
    assert group_task.id not in [t.id for t in actions.list_inbox(gina)]
    decide(people["root"], other)
    assert other.status == "pending_fulfillment"


def test_user_without_manager_goes_to_admins(people):
    item = submit(people["root"], ("crm", "mark")).items[0]  # mark has no manager
    task = open_task(item)
    assert task.candidate_user_id is None
    assert actions.list_inbox(people["mark"]) == []
    # root requested it, so even the admin may not approve it; a stranger cannot even see it.
    with pytest.raises(NotAllowed):
        actions.complete_task(people["root"], task.id, "approve")
    with pytest.raises(NotFound):
        actions.complete_task(people["stan"], task.id, "approve")


def test_inbox_shows_tasks_to_candidates_only(people):
    item = submit(people["alice"], ("crm", "bob")).items[0]
    assert [t.item_id for t in actions.list_inbox(people["mark"])] == [item.id]
    assert actions.list_inbox(people["gina"]) == []
    assert actions.list_inbox(people["stan"]) == []
    assert len(actions.list_inbox(people["root"])) == 1  # admins see everything
    own = submit(people["root"], ("crm", "mark")).items[0]  # root may not decide this one
    assert [t.item_id for t in actions.list_inbox(people["root"])] == [item.id]
    assert open_task(own) is not None


def test_requester_cancels_an_open_item(people):
    alice = people["alice"]
    item = submit(alice, ("crm", "alice")).items[0]
    task = open_task(item)
    with pytest.raises(NotAllowed):
        items.cancel_item(people["mark"], item.id)
    items.cancel_item(alice, item.id, "no longer needed")
    assert item.status == "cancelled" and open_task(item) is None
    with pytest.raises(Conflict):
        actions.complete_task(people["mark"], task.id, "approve")
    with pytest.raises(Conflict):
        items.cancel_item(alice, item.id)


def test_second_open_request_for_same_person_and_app_is_a_conflict(people):
    alice = people["alice"]
    first = submit(alice, ("crm", "bob")).items[0]
    cart.add_to_cart(alice, "crm", "bob")
    with pytest.raises(Conflict) as raised:
        cart.submit_cart(alice)
    assert raised.value.extra["item"] == first.id
    assert len(cart.list_cart(alice)) == 1  # nothing lost: the line is still in the cart


def test_resubmitting_with_the_same_idempotency_key_returns_the_first_request(people):
    alice = people["alice"]
    first = submit(alice, ("crm", "alice"), idempotency_key="k-1")
    again = cart.submit_cart(alice, "k-1")
    assert again.id == first.id and len(again.items) == 1


def test_empty_cart_cannot_be_submitted(people):
    with pytest.raises(Invalid, match="empty"):
        cart.submit_cart(people["alice"])


def test_unknown_beneficiary_or_application_is_invalid(people):
    with pytest.raises(Invalid, match="nobody"):
        cart.add_to_cart(people["alice"], "crm", "nobody")
    with pytest.raises(Invalid, match="nothing"):
        cart.add_to_cart(people["alice"], "nothing", "bob")


def test_strangers_cannot_read_items_or_requests(people):
    request = submit(people["alice"], ("crm", "bob"))
    item = request.items[0]
    with pytest.raises(NotFound):
        items.get_item(people["stan"], item.id)
    with pytest.raises(NotFound):
        items.get_request(people["bob"], request.id)
    assert items.get_item(people["bob"], item.id) is item  # the beneficiary may read it
    assert items.get_item(people["mark"], item.id) is item  # so may the approving manager


def test_audit_events_never_hold_the_connector_token(people):
    item = submit(people["alice"], ("wiki", "alice")).items[0]
    decide(people["mark"], item)
    decide(people["gina"], item)
    dump = repr([(e.event, e.details, e.comment) for e in db.session.scalars(select(AuditEvent))])
    assert "wiki-secret-token" not in dump and "provisioning_queued" in dump
