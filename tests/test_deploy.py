"""Deploying BPMN: versions, and refusing unsafe or broken files with the element named."""

import re
from pathlib import Path

import pytest

from engine.db import db
from engine.errors import Invalid
from engine.models import ProcessInstance
from engine.workflow import runtime
from engine.workflow.bpmn import deploy, latest_version
from tests.flow import decide, submit

SHIPPED = (Path(__file__).parent.parent / "workflows" / "access_request.bpmn").read_text()


def _variant(old: str, new: str) -> str:
    assert old in SHIPPED
    return SHIPPED.replace(old, new, 1)


def test_deploying_a_changed_file_makes_a_new_version_and_the_same_file_does_not(app):
    first = latest_version("access_request")
    assert deploy(SHIPPED).id == first.id
    renamed = _variant('name="Manager approval"', 'name="Line manager approval"')
    second = deploy(renamed)
    assert (second.key, second.version) == ("access_request", first.version + 1)


def test_running_item_keeps_the_version_it_started_on(people):
    item = submit(people["alice"], ("crm", "alice")).items[0]
    old = latest_version("access_request")
    deploy(_variant('name="Fulfil the request"', 'name="Create the CRM account"'))
    db.session.commit()
    decide(people["mark"], item)
    instance = db.session.query(ProcessInstance).filter_by(item_id=item.id).one()
    assert instance.workflow_version_id == old.id
    later = submit(people["alice"], ("crm", "bob")).items[0]
    newer = db.session.query(ProcessInstance).filter_by(item_id=later.id).one()
    assert newer.workflow_version.version == old.version + 1


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ("<bpmn:definitions", "not well-formed"),
        (
            '<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"/>',
            "no executable bpmn:process",
        ),
        (
            re.sub(
                r'<bpmn:userTask id="manager_approval"(.*?)</bpmn:userTask>',
                r'<bpmn:scriptTask id="manager_approval"\1<bpmn:script>import os</bpmn:script>'
                r"</bpmn:scriptTask>",
                SHIPPED,
                count=1,
                flags=re.S,
            ),
            "manager_approval",
        ),
        (
            _variant('decision == "approve"', "__import__('os').system('id')"),
            "f_manager_yes",
        ),
        (
            _variant('decision == "approve"', "().__class__.__bases__[0].__subclasses__()"),
            "f_manager_yes",
        ),
        (
            _variant(
                '<bpmn:lane id="lane_fulfiller" name="Fulfiller">',
                '<bpmn:lane id="lane_fulfiller" name="Helpdesk">',
            ),
            "fulfil_by_hand",
        ),
        (
            _variant('serviceTaskOperator id="provision"', 'serviceTaskOperator id="shell"'),
            "provision_account",
        ),
    ],
    ids=[
        "bad-xml",
        "no-process",
        "script-task",
        "import-call",
        "dunder-walk",
        "unknown-lane",
        "unknown-operator",
    ],
)
def test_unsafe_or_broken_bpmn_is_refused_naming_the_element(app, content, named):
    before = latest_version("access_request").version
    with pytest.raises(Invalid) as raised:
        deploy(content)
    assert named in raised.value.detail
    assert latest_version("access_request").version == before


def test_loaded_instances_never_get_the_stock_eval_engine(people):
    item = submit(people["alice"], ("crm", "alice")).items[0]
    instance = db.session.query(ProcessInstance).filter_by(item_id=item.id).one()
    runtime._live.clear()  # force a load from the stored state
    workflow = runtime.load_workflow(instance)
    assert workflow.script_engine is runtime.SCRIPT_ENGINE
