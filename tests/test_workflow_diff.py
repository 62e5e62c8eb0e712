"""The diff a reviewer approves a workflow draft on: every behaviour change, by element id."""

import re
from pathlib import Path

from engine.workflow.diff import Change, diff_workflows

SHIPPED = (Path(__file__).parent.parent / "workflows" / "access_request.bpmn").read_text()

MULTI_INSTANCE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="review" name="Review">
      <bpmn:multiInstanceLoopCharacteristics isSequential="false">
        <bpmn:loopCardinality>3</bpmn:loopCardinality>
        <bpmn:completionCondition>approvals &gt;= 2</bpmn:completionCondition>
      </bpmn:multiInstanceLoopCharacteristics>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review"/>
  </bpmn:process>
</bpmn:definitions>
"""


def _variant(old: str, new: str, source: str = SHIPPED) -> str:
    assert old in source
    return source.replace(old, new, 1)


def _changes(diff, element_id) -> dict[str, Change]:
    entry = diff.element(element_id)
    assert entry is not None, f"{element_id} is not in the diff"
    return {change.field: change for change in entry.changes}


def test_the_same_file_has_no_changes_even_when_only_the_layout_moved():
    moved = re.sub(r'x="(\d+)"', lambda m: f'x="{int(m.group(1)) + 40}"', SHIPPED)
    assert moved != SHIPPED
    assert diff_workflows(SHIPPED, moved).empty


def test_review_shows_changed_gateway_condition():
    changed = _variant('decision == "approve"', 'decision != "reject"')
    diff = diff_workflows(SHIPPED, changed)
    assert [e.id for e in diff.changed] == ["f_manager_yes"]
    assert (diff.added, diff.removed) == ([], [])
    condition = _changes(diff, "f_manager_yes")["condition"]
    assert (condition.old, condition.new) == ('decision == "approve"', 'decision != "reject"')
    assert condition.expression


def test_a_shorter_timer_and_a_changed_service_parameter_are_shown_old_to_new():
    changed = _variant(
        "<bpmn:timeDuration>approval_timeout</bpmn:timeDuration>",
        '<bpmn:timeDuration>"PT1S"</bpmn:timeDuration>',
    )
    changed = _variant('value="account_mode"', "value=\"'create'\"", changed)
    diff = diff_workflows(SHIPPED, changed)
    timer = _changes(diff, "manager_timeout")["timer duration"]
    assert (timer.old, timer.new, timer.expression) == ("approval_timeout", '"PT1S"', True)
    parameter = _changes(diff, "provision_account")["service parameter 'operation'"]
    assert (parameter.old, parameter.new, parameter.expression) == (
        "account_mode",
        "'create'",
        True,
    )
    assert diff.element("group_timeout") is None  # the other timer is untouched


def test_loop_cardinality_and_completion_condition_are_expressions_too():
    changed = _variant(">3</bpmn:loopCardinality>", ">1</bpmn:loopCardinality>", MULTI_INSTANCE)
    changed = _variant("approvals &gt;= 2", "True", changed)
    changes = _changes(diff_workflows(MULTI_INSTANCE, changed), "review")
    assert (changes["loop cardinality"].old, changes["loop cardinality"].new) == ("3", "1")
    assert (changes["completion condition"].old, changes["completion condition"].new) == (
        "approvals >= 2",
        "True",
    )
    assert changes["loop cardinality"].expression and changes["completion condition"].expression


def test_moving_a_task_to_another_lane_is_a_change_of_that_task():
    moved = _variant("<bpmn:flowNodeRef>fulfil_by_hand</bpmn:flowNodeRef>", "")
    moved = _variant(
        "<bpmn:flowNodeRef>start</bpmn:flowNodeRef>",
        "<bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>fulfil_by_hand</bpmn:flowNodeRef>",
        moved,
    )
    diff = diff_workflows(SHIPPED, moved)
    lane = _changes(diff, "fulfil_by_hand")["lane"]
    assert (lane.old, lane.new) == ("Fulfiller", "Manager")
    assert diff.element("lane_fulfiller") is None  # membership is shown on the task, once


def test_renaming_a_lane_changes_who_decides_and_is_shown():
    renamed = _variant('name="Fulfiller"', 'name="Manager"')
    changes = _changes(diff_workflows(SHIPPED, renamed), "lane_fulfiller")
    assert (changes["name"].old, changes["name"].new) == ("Fulfiller", "Manager")


def test_the_attackers_shortcut_lists_removed_approvals_and_the_new_path():
    # start -> timer -> provision: the approvals are gone and the start flow is retargeted.
    shortcut = _variant(
        '<bpmn:sequenceFlow id="f_start" sourceRef="start" targetRef="manager_approval" />',
        '<bpmn:sequenceFlow id="f_start" sourceRef="start" targetRef="wait" />'
        '<bpmn:intermediateCatchEvent id="wait" name="Wait"><bpmn:timerEventDefinition>'
        '<bpmn:timeDuration>"PT1M"</bpmn:timeDuration></bpmn:timerEventDefinition>'
        "</bpmn:intermediateCatchEvent>"
        '<bpmn:sequenceFlow id="f_wait" sourceRef="wait" targetRef="provision_account" />',
    )
    shortcut = re.sub(
        r'<bpmn:userTask id="(manager|group)_approval".*?</bpmn:userTask>', "", shortcut, flags=re.S
    )
    diff = diff_workflows(SHIPPED, shortcut)
    assert {"manager_approval", "group_approval"} <= {e.id for e in diff.removed}
    assert {e.id for e in diff.added} == {"wait", "f_wait"}
    wait = _changes(diff, "wait")
    assert wait["timer duration"].new == '"PT1M"' and wait["timer duration"].old is None
    target = _changes(diff, "f_start")["targetRef"]
    assert (target.old, target.new) == ("manager_approval", "wait")
    removed = _changes(diff, "manager_approval")
    assert removed["name"].old == "Manager approval" and removed["name"].new is None


def test_a_task_turned_into_another_kind_keeps_its_id_and_shows_the_type():
    changed = re.sub(
        r'<bpmn:userTask id="fulfil_by_hand"(.*?)</bpmn:userTask>',
        r'<bpmn:manualTask id="fulfil_by_hand"\1</bpmn:manualTask>',
        SHIPPED,
        flags=re.S,
    )
    kind = _changes(diff_workflows(SHIPPED, changed), "fulfil_by_hand")["type"]
    assert (kind.old, kind.new) == ("userTask", "manualTask")


def test_colours_from_the_modeler_are_not_changes():
    coloured = _variant(
        'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"',
        'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" '
        'xmlns:bioc="http://bpmn.io/schema/bpmn/biocolor/1.0"',
    )
    coloured = _variant(
        '<bpmn:userTask id="fulfil_by_hand"',
        '<bpmn:userTask bioc:stroke="#e53935" id="fulfil_by_hand"',
        coloured,
    )
    assert diff_workflows(SHIPPED, coloured).empty


def test_a_first_version_lists_every_element_as_added():
    diff = diff_workflows(None, MULTI_INSTANCE)
    assert [e.id for e in diff.added] == ["p", "start", "review", "f1"]
    review = {c.field: c for c in diff.element("review").changes}
    assert (review["loop cardinality"].old, review["loop cardinality"].new) == (None, "3")
