"""Lanes are roles: built-in ones the engine resolves, others mapped to groups; a lane that names
nobody is refused at deploy and at import, naming the lane and the application."""

import pytest
from sqlalchemy import select

from engine.db import db
from engine.directory.importer import import_directory
from engine.errors import Invalid
from engine.models import Group
from engine.workflow.bpmn import deploy, latest_version
from tests.api_client import api  # noqa: F401
from tests.flow import act, decide, open_task, submit

NS = (
    'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"'
)


def staged(key: str, *lanes: str) -> str:
    """start → one approval per lane, in order → end."""
    steps = [f"s{i}" for i in range(len(lanes))]
    ref = "<bpmn:flowNodeRef>s{}</bpmn:flowNodeRef>"
    lane_xml = "".join(
        f'<bpmn:lane id="lane{i}" name="{lane}">{ref.format(i)}</bpmn:lane>'
        for i, lane in enumerate(lanes)
    )
    nodes = ["start", *steps, "end"]
    flows = "".join(
        f'<bpmn:sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}"/>'
        for i, (a, b) in enumerate(zip(nodes, nodes[1:], strict=False))
    )
    tasks = "".join(
        f'<bpmn:userTask id="s{i}" name="{lane} approval"/>' for i, lane in enumerate(lanes)
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions {NS} id="defs" targetNamespace="http://example.com/accessflow">
  <bpmn:process id="{key}" isExecutable="true">
    <bpmn:laneSet id="lanes">{lane_xml}</bpmn:laneSet>
    <bpmn:startEvent id="start"/>{tasks}<bpmn:endEvent id="end"/>{flows}
  </bpmn:process>
</bpmn:definitions>"""


def group_id(name):
    return db.session.scalar(select(Group.id).where(Group.name == name))


def use(workflow, **app):
    entry = {
        "key": "vault",
        "name": "Vault",
        "kind": "disconnected",
        "approver_group": "crm-approvers",
        "fulfiller_group": "it-fulfillers",
        "workflow": workflow,
        **app,
    }
    act(
        import_directory,
        {"groups": [{"name": "security", "members": ["stan"]}], "applications": [entry]},
    )


def test_a_security_team_lane_mapped_on_the_application_gets_its_task(people):
    act(deploy, staged("privileged", "Manager", "SecurityTeam"))
    use("privileged", lanes={"SecurityTeam": "security"})
    item = submit(people["alice"], ("vault", "alice")).items[0]
    decide(people["mark"], item)
    task = open_task(item)
    assert (task.lane, task.candidate_group_id) == ("SecurityTeam", group_id("security"))
    decide(people["stan"], item)
    assert item.status == "fulfilled"


def test_an_application_cannot_use_a_workflow_whose_lane_names_nobody_for_it(people):
    act(deploy, staged("privileged", "Manager", "SecurityTeam"))  # nobody runs it yet: fine
    with pytest.raises(Invalid, match="lane 'SecurityTeam' of workflow 'privileged'.*'vault'"):
        use("privileged")
    assert db.session.scalar(select(Group.id).where(Group.name == "security")) is None  # undone


def test_a_version_using_an_unmapped_lane_is_refused_for_the_applications_running_it(people):
    act(deploy, staged("privileged", "Manager", "SecurityTeam"))
    use("privileged", lanes={"SecurityTeam": "security"})
    with pytest.raises(Invalid, match="lane 'AuditTeam'.*application 'vault'") as refused:
        act(deploy, staged("privileged", "Manager", "AuditTeam"))
    assert refused.value.extra["element"] == "s1"
    assert latest_version("privileged").version == 1

    act(import_directory, {"settings": {"lanes": {"AuditTeam": "crm-approvers"}}})
    assert act(deploy, staged("privileged", "Manager", "AuditTeam")).version == 2


def test_second_level_manager_and_application_owner(people):
    act(import_directory, {"users": [{"username": "mark", "manager": "root"}]})
    act(deploy, staged("owned", "SecondLevelManager", "ApplicationOwner"))
    use("owned", owner="dora")
    item = submit(people["alice"], ("vault", "alice")).items[0]
    assert open_task(item).candidate_user_id == people["root"].id  # alice → mark → root
    decide(people["root"], item)
    assert open_task(item).candidate_user_id == people["dora"].id


def test_a_lane_with_nobody_eligible_falls_to_the_second_level_manager(people):
    act(import_directory, {"users": [{"username": "mark", "manager": "root"}]})
    act(deploy, staged("privileged", "Manager", "SecurityTeam"))
    use("privileged", lanes={"SecurityTeam": "security"})
    item = submit(people["stan"], ("vault", "stan")).items[0]  # stan is the whole team
    decide(people["mark"], item)
    assert open_task(item).candidate_user_id == people["root"].id


def test_the_owner_and_the_lanes_must_name_someone(people):
    act(deploy, staged("owned", "Manager", "ApplicationOwner"))
    with pytest.raises(Invalid, match="no person or group 'nobody-here'"):
        use("owned", owner="nobody-here")
    with pytest.raises(Invalid, match="ApplicationOwner.*set the application's owner"):
        use("owned")
    with pytest.raises(Invalid, match="names no group 'ghosts'"):
        use("access_request", lanes={"SecurityTeam": "ghosts"})
    with pytest.raises(Invalid, match="not a lane name"):
        use("access_request", lanes={"Manager": "security"})
    use("owned", owner="security")  # a group may own it too


def test_a_lane_name_that_is_not_a_name_is_refused_at_deploy(app):
    with pytest.raises(Invalid, match="cannot be resolved to people"):
        deploy(staged("odd", "Manager", "Security Team!"))


def test_owner_and_lanes_over_the_admin_api(api, people):  # noqa: F811
    act(deploy, staged("privileged", "Manager", "SecurityTeam"))
    act(import_directory, {"groups": [{"name": "security", "members": ["stan"]}]})
    root = api["root"]
    path = "/api/v1/admin/applications/crm"
    refused = root.call("PATCH", path, json={"workflow": "privileged"})
    assert refused.status_code == 422 and "SecurityTeam" in refused.get_json()["detail"]
    answer = root.call(
        "PATCH",
        path,
        json={"workflow": "privileged", "lanes": {"SecurityTeam": "security"}, "owner": "dora"},
    )
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert (body["owner"], body["lanes"]) == ("dora", {"SecurityTeam": "security"})
    settings = root.call("PATCH", "/api/v1/admin/settings", json={"lanes": {"Audit": "nope"}})
    assert settings.status_code == 422
    assert api["alice"].call("PATCH", path, json={"owner": "alice"}).status_code == 403
