"""The workflow designer in a real browser: deploy a changed BPMN as a draft that a second person
approves, refuse an invalid one."""

import re

from playwright.sync_api import expect
from sqlalchemy import select

from engine.db import db
from engine.directory.lookup import user_by_username
from engine.models import ProcessInstance, RequestItem
from tests.flow import decide, open_task, submit

pytest_plugins = ["tests.browser"]


def open_modeler(page, server):
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Designer").click()
    page.get_by_role("link", name="Open access_request in the modeler").click()
    page.wait_for_selector('[data-element-id="fulfil_by_hand"]')


def rename(page, element_id, name):
    page.get_by_label("Element", exact=True).select_option(element_id)
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_role("button", name="Apply name").click()


def test_designer_draft_runs_after_a_second_person_approves_while_an_older_item_finishes(
    log_in, server
):
    with server.engine():
        older = submit(user_by_username("alice"), ("crm", "alice")).items[0]
        decide(user_by_username("mark"), older)
        older_id = older.id

    dora = log_in("dora")
    open_modeler(dora, server)
    rename(dora, "fulfil_by_hand", "Fulfil the request by hand")
    dora.get_by_role("button", name="Validate").click()
    expect(dora.locator("#designer-message")).to_contain_text("is valid and can be deployed")
    dora.get_by_role("button", name="Deploy as draft").click()
    expect(dora.get_by_role("heading", level=1)).to_contain_text("version 2")
    expect(dora.get_by_role("heading", level=1)).to_contain_text("draft")
    expect(dora.get_by_role("status").first).to_contain_text(
        "Deployed access_request version 2 as a draft"
    )
    # The modeler's round trip changes nothing but the one name.
    expect(dora.locator(".diff-summary")).to_have_text("0 added · 0 removed · 1 changed")
    expect(dora.get_by_role("note")).to_contain_text("You deployed this draft")
    expect(dora.get_by_role("button", name="Approve version 2")).to_have_count(0)

    with server.engine():  # not approved yet: a new item still starts on version 1
        waiting = submit(user_by_username("alice"), ("crm", "stan")).items[0]
        instance = db.session.scalar(
            select(ProcessInstance).where(ProcessInstance.item_id == waiting.id)
        )
        assert instance.workflow_version.version == 1

    root = log_in("root")
    root.get_by_role("navigation", name="Main").get_by_role("link", name="Designer").click()
    root.get_by_role("link", name="Review access_request v2").click()
    changed = root.locator('li.diff-element[data-element-id="fulfil_by_hand"]')
    expect(changed.locator("td.diff-old")).to_have_text("Fulfil the request")
    expect(changed.locator("td.diff-new")).to_have_text("Fulfil the request by hand")
    root.get_by_label("Comment").fill("only a new task name")
    root.get_by_role("button", name="Approve version 2").click()
    expect(root.get_by_role("status").first).to_contain_text("Approved access_request version 2")
    expect(root.locator(".reviewed-by")).to_contain_text("Rita Root")

    dora.goto(f"{server.url}/designer/access_request")
    history = dora.locator("table.versions tbody tr")
    expect(history).to_have_count(2)
    expect(history.nth(0)).to_contain_text("v2")
    expect(history.nth(0)).to_contain_text("in use")
    expect(history.nth(0)).to_contain_text("dora")
    expect(history.nth(0).locator('td[data-label="Reviewed by"]')).to_have_text("Rita Root")
    expect(history.nth(1)).to_contain_text("v1")
    expect(history.nth(1).locator('td[data-label="Running items"]')).to_have_text("2")

    with server.engine():
        alice, mark, gina = (user_by_username(n) for n in ("alice", "mark", "gina"))
        older = db.session.get(RequestItem, older_id)
        decide(gina, older)
        newer = submit(alice, ("crm", "bob")).items[0]
        decide(mark, newer)
        decide(gina, newer)
        assert open_task(older).title == "Fulfil the request"
        assert open_task(newer).title == "Fulfil the request by hand"
        newer_id = newer.id

    fred = log_in("fred")
    fred.get_by_role("navigation", name="Main").get_by_role("link", name="Inbox").click()
    expect(fred.get_by_role("link", name="Fulfil the request by hand")).to_be_visible()
    fred.get_by_role("link", name="Fulfil the request", exact=True).click()
    fred.get_by_label("Account id in CRM").fill("CRM-7")
    fred.get_by_role("button", name="Complete").click()
    expect(fred.get_by_role("status")).to_contain_text("done: approve")

    alice_page = log_in("alice")
    alice_page.goto(f"{server.url}/items/{older_id}")
    expect(alice_page.locator(".page-head")).to_contain_text("Fulfilled")
    expect(alice_page.locator(".workflow-version")).to_have_text("access_request version 1")
    alice_page.goto(f"{server.url}/items/{newer_id}")
    expect(alice_page.locator(".workflow-version")).to_have_text("access_request version 2")


def test_an_invalid_bpmn_is_refused_with_the_offending_element_marked(log_in, server):
    dora = log_in("dora")
    open_modeler(dora, server)
    rename(dora, "lane_fulfiller", "Helpdesk")
    dora.get_by_role("button", name="Validate").click()
    message = dora.locator("#designer-message")
    expect(message).to_have_attribute("role", "alert")
    # A lane is a role: "Helpdesk" would do if the applications running the process mapped it.
    expect(message).to_contain_text("task 'fulfil_by_hand'")
    expect(message).to_contain_text("lane 'Helpdesk' of workflow 'access_request' names nobody")
    marked = dora.locator('g.djs-element[data-element-id="fulfil_by_hand"]')
    expect(marked).to_have_class(re.compile(r"\baf-invalid\b"))
    expect(dora.locator(".af-invalid-note")).to_contain_text("fulfil_by_hand")

    dora.get_by_role("button", name="Deploy as draft").click()
    expect(message).to_contain_text("element fulfil_by_hand is marked on the diagram")
    dora.reload()
    expect(dora.locator("table.versions tbody tr")).to_have_count(1)
