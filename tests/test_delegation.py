"""Handing a task to a named person, and separation of duties between approval stages."""

import pytest
from sqlalchemy import select

from engine.db import db
from engine.directory.importer import import_directory
from engine.errors import Invalid, NotAllowed, NotFound
from engine.models import AuditEvent, Group, Notice
from engine.tasks import actions, delegation
from tests.api_client import api  # noqa: F401
from tests.flow import act, decide, open_task, submit


def reassign(user, task, to, comment=None):
    return act(delegation.reassign_task, user, task.id, to, comment)


def approvers(*members):
    act(import_directory, {"groups": [{"name": "crm-approvers", "members": list(members)}]})


def test_a_manager_hands_an_approval_to_a_colleague_who_then_decides_it(people):
    item = submit(people["alice"], ("crm", "alice")).items[0]
    task = open_task(item)

    reassign(people["mark"], task, "stan", "I am away; Stan knows Alice's work")

    db.session.expire_all()
    assert (task.candidate_user_id, task.candidate_group_id) == (people["stan"].id, None)
    assert [t.id for t in actions.list_inbox(people["stan"], "assigned")] == [task.id]
    assert actions.list_inbox(people["mark"]) == []
    with pytest.raises(NotFound):  # no longer his to see
        act(actions.complete_task, people["mark"], task.id, "approve")
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.event == "task_reassigned"))
    assert event.actor_id == people["mark"].id and event.details["to"] == "stan"
    assert event.comment == "I am away; Stan knows Alice's work"
    notice = db.session.scalar(select(Notice).where(Notice.kind == "task_assigned"))
    assert notice.recipient_id == people["stan"].id and "Stan knows" in notice.body_text

    decide(people["stan"], item)
    assert open_task(item).lane == "ApproverGroup"


def test_nobody_gets_a_task_they_could_not_decide(people):
    item = submit(people["bob"], ("crm", "alice")).items[0]
    task = open_task(item)
    for who, why in (
        ("alice", "for themselves"),
        ("bob", "requested"),
        ("nobody-here", "unknown user"),
    ):
        with pytest.raises(Invalid, match=why) as refused:
            reassign(people["mark"], task, who)
        assert refused.value.extra["field"] == "to"
    act(import_directory, {"users": [{"username": "stan", "active": False}]})
    with pytest.raises(Invalid, match="unknown user"):
        reassign(people["mark"], task, "stan")

    decide(people["mark"], item)  # the manager stage
    with pytest.raises(Invalid, match="two approval stages"):
        reassign(people["gina"], open_task(item), "mark")
    db.session.expire_all()
    assert open_task(item).candidate_group_id is not None  # refusals changed nothing


def test_only_someone_who_may_act_on_a_task_may_hand_it_on(people):
    item = submit(people["alice"], ("crm", "alice")).items[0]
    task = open_task(item)
    with pytest.raises(NotFound):  # fred cannot even see it
        reassign(people["fred"], task, "stan")
    with pytest.raises(NotAllowed, match="for themselves"):  # alice sees it: it is hers
        reassign(people["alice"], task, "stan")

    reassign(people["root"], task, "dora")  # an admin assigns any open task
    db.session.expire_all()
    assert task.candidate_user_id == people["dora"].id


def test_a_manager_who_is_also_an_approver_does_not_decide_both_stages(people):
    approvers("gina", "mark")
    item = submit(people["alice"], ("crm", "alice")).items[0]
    decide(people["mark"], item)
    group_task = open_task(item)
    assert group_task.candidate_group_id is not None  # gina may still decide it

    assert group_task.id not in [t.id for t in actions.list_inbox(people["mark"])]
    with pytest.raises(NotAllowed, match="two approval stages"):
        act(actions.complete_task, people["mark"], group_task.id, "approve")
    assert [t.id for t in actions.list_inbox(people["gina"])] == [group_task.id]


def test_an_approver_group_of_only_the_manager_falls_to_the_admins(people):
    approvers("mark")
    item = submit(people["alice"], ("crm", "alice")).items[0]
    decide(people["mark"], item)
    admins = db.session.scalar(select(Group).where(Group.name == "admins"))
    assert open_task(item).candidate_group_id == admins.id
    decide(people["root"], item)
    assert item.status == "pending_fulfillment"


def test_reassign_and_completed_tasks_over_the_api(api, people):  # noqa: F811
    item = api["alice"].submit(("crm", "alice")).get_json()["items"][0]
    task = api["mark"].open_task(item["id"])
    path = f"/api/v1/tasks/{task['id']}/reassign"

    assert api["alice"].post(path, {"to": "stan"}).status_code == 403
    refused = api["mark"].post(path, {"to": "alice"})
    assert refused.status_code == 422 and "for themselves" in refused.get_json()["detail"]
    assert api["mark"].post(path, {}).status_code == 422
    answer = api["mark"].post(path, {"to": "stan", "comment": "over to you"})
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["id"] == task["id"]

    stan = api["stan"]
    decided = stan.post(f"/api/v1/tasks/{task['id']}/complete", {"decision": "approve"})
    assert decided.status_code == 200
    done = stan.get("/api/v1/tasks?status=completed").get_json()["items"]
    assert [(t["id"], t["decision"]) for t in done] == [(task["id"], "approve")]
    assert api["mark"].get("/api/v1/tasks?status=completed").get_json()["items"] == []
    assert stan.get("/api/v1/tasks?status=closed").status_code == 422


def test_the_api_inbox_narrows_by_application_person_lane_and_overdue(api, people):  # noqa: F811
    alice = api["alice"]
    alice.submit(("crm", "alice"), ("wiki", "alice"), ("crm", "bob"))
    mark = api["mark"]

    def names(query):
        answer = mark.get(f"/api/v1/tasks?{query}")
        assert answer.status_code == 200, answer.get_json()
        return sorted((t["application"], t["beneficiary"]) for t in answer.get_json()["items"])

    assert names("application=crm") == [("crm", "alice"), ("crm", "bob")]
    assert names("beneficiary=alice") == [("crm", "alice"), ("wiki", "alice")]
    assert names("application=wiki&lane=Manager") == [("wiki", "alice")]
    assert names("lane=Fulfiller") == [] and names("overdue=true") == []
    for bad in ("application=nope", "beneficiary=nobody-here", "overdue=maybe"):
        assert mark.get(f"/api/v1/tasks?{bad}").status_code == 422
