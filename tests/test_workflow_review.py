"""Four eyes on workflow changes: a designer's deploy is a draft until someone else approves it."""

from pathlib import Path

import pytest
from sqlalchemy import select

from engine.db import db
from engine.directory.importer import import_directory
from engine.errors import Conflict, Invalid, NotAllowed
from engine.models import AuditEvent, ProcessInstance, WorkflowVersion
from engine.workflow.bpmn import latest_version
from engine.workflow.designer import (
    approve_draft,
    deploy_as_operator,
    deploy_workflow,
    list_drafts,
    reject_draft,
    review_workflow_version,
)
from tests.flow import decide, open_task, submit

SHIPPED = (Path(__file__).parent.parent / "workflows" / "access_request.bpmn").read_text()
BY_HAND = SHIPPED.replace('name="Fulfil the request"', 'name="Fulfil the request by hand"', 1)
# The attack: the first flow goes straight to provisioning, past every approval.
SHORTCUT = SHIPPED.replace(
    '<bpmn:sequenceFlow id="f_start" sourceRef="start" targetRef="manager_approval" />',
    '<bpmn:sequenceFlow id="f_start" sourceRef="start" targetRef="provision_account" />',
    1,
)


@pytest.fixture
def designers(people):
    """dora and stan design workflows; root is an admin."""
    import_directory({"groups": [{"name": "designers", "members": ["dora", "stan"]}]})
    return people


def _version_of(item) -> int:
    instance = db.session.scalar(select(ProcessInstance).where(ProcessInstance.item_id == item.id))
    return instance.workflow_version.version


def test_designer_draft_does_not_run_until_a_second_designer_approves(designers):
    dora, stan, alice, mark = (designers[n] for n in ("dora", "stan", "alice", "mark"))
    draft, created = deploy_workflow(dora, BY_HAND)
    assert created and (draft.version, draft.status) == (2, "draft")
    assert latest_version("access_request").version == 1

    before = submit(alice, ("crm", "alice")).items[0]
    assert _version_of(before) == 1

    approve_draft(stan, "access_request", 2, "checked the diff")
    assert latest_version("access_request").id == draft.id
    stored = db.session.get(WorkflowVersion, draft.id)
    assert (stored.status, stored.reviewed_by_id, stored.review_comment) == (
        "active",
        stan.id,
        "checked the diff",
    )
    after = submit(alice, ("crm", "bob")).items[0]
    assert _version_of(after) == 2
    decide(mark, after)
    decide(designers["gina"], after)
    assert open_task(after).title == "Fulfil the request by hand"


def test_a_shortcut_past_the_approvals_waits_unapproved_while_items_still_need_them(designers):
    deploy_workflow(designers["dora"], SHORTCUT)
    item = submit(designers["alice"], ("wiki", "alice")).items[0]
    assert item.status == "pending_approval"
    assert open_task(item).lane == "Manager"
    review = review_workflow_version(designers["root"], "access_request", 2)
    target = {c.field: c for c in review["diff"].element("f_start").changes}["targetRef"]
    assert (target.old, target.new) == ("manager_approval", "provision_account")
    assert review["may_approve"] is True


def test_designer_cannot_approve_own_draft(designers):
    dora, root = designers["dora"], designers["root"]
    deploy_workflow(dora, SHORTCUT)
    with pytest.raises(NotAllowed) as refused:
        approve_draft(dora, "access_request", 2)
    assert "you deployed this draft" in refused.value.detail
    assert review_workflow_version(dora, "access_request", 2)["may_approve"] is False
    assert db.session.scalar(
        select(WorkflowVersion.status).where(WorkflowVersion.version == 2)
    ) == ("draft")
    assert latest_version("access_request").version == 1

    # An admin is held to the same rule for a draft of their own.
    deploy_workflow(root, BY_HAND)
    with pytest.raises(NotAllowed):
        approve_draft(root, "access_request", 3)
    assert latest_version("access_request").version == 1


def test_only_designers_and_admins_review_drafts(designers):
    deploy_workflow(designers["dora"], BY_HAND)
    with pytest.raises(NotAllowed):
        approve_draft(designers["alice"], "access_request", 2)
    with pytest.raises(NotAllowed):
        list_drafts(designers["alice"])
    approve_draft(designers["root"], "access_request", 2)  # an admin may
    assert latest_version("access_request").version == 2


def test_a_rejected_draft_needs_a_reason_and_never_runs(designers):
    dora, stan = designers["dora"], designers["stan"]
    deploy_workflow(dora, SHORTCUT)
    with pytest.raises(Invalid) as missing:
        reject_draft(stan, "access_request", 2, "  ")
    assert missing.value.extra["field"] == "comment"
    reject_draft(stan, "access_request", 2, "skips every approval")
    with pytest.raises(Conflict) as late:
        approve_draft(designers["root"], "access_request", 2)
    assert "rejected" in late.value.detail
    assert latest_version("access_request").version == 1
    assert list_drafts(stan) == []
    item = submit(designers["alice"], ("wiki", "alice")).items[0]
    assert _version_of(item) == 1


def test_a_newer_draft_supersedes_the_pending_one(designers):
    dora, stan = designers["dora"], designers["stan"]
    deploy_workflow(dora, SHORTCUT)
    newer, _ = deploy_workflow(stan, BY_HAND)
    assert [row["version"].version for row in list_drafts(dora)] == [3]
    with pytest.raises(Conflict):
        approve_draft(stan, "access_request", 2)
    assert db.session.scalar(
        select(WorkflowVersion.status).where(WorkflowVersion.version == 2)
    ) == ("superseded")
    # The same file again is the same draft, not a fourth version.
    assert deploy_workflow(dora, BY_HAND) == (newer, False)
    approve_draft(dora, "access_request", 3)
    assert latest_version("access_request").version == 3


def test_an_operator_deploy_is_active_at_once_and_supersedes_pending_drafts(designers):
    deploy_workflow(designers["dora"], SHORTCUT)
    version, created = deploy_as_operator(BY_HAND)
    assert created and (version.version, version.status) == (3, "active")
    assert latest_version("access_request").id == version.id
    assert list_drafts(designers["root"]) == []


def test_audit_records_who_deployed_a_draft_and_who_approved_or_rejected_it(designers):
    dora, stan, root = designers["dora"], designers["stan"], designers["root"]
    deploy_workflow(dora, SHORTCUT)
    reject_draft(root, "access_request", 2, "skips every approval")
    deploy_workflow(dora, BY_HAND)
    approve_draft(stan, "access_request", 3, "renames one task")
    deploy_as_operator(SHIPPED.replace("Manager approval", "Line manager approval", 1))
    rows = db.session.scalars(
        select(AuditEvent).where(AuditEvent.event.like("workflow_%")).order_by(AuditEvent.id)
    ).all()
    assert [(r.event, r.actor_id, r.details["version"], r.comment) for r in rows] == [
        ("workflow_draft_deployed", dora.id, 2, None),
        ("workflow_rejected", root.id, 2, "skips every approval"),
        ("workflow_draft_deployed", dora.id, 3, None),
        ("workflow_approved", stan.id, 3, "renames one task"),
        ("workflow_deployed", None, 4, None),
    ]
