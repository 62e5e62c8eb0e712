"""An administrator in a real browser: a failed auto-provision becomes an incident, then a retry."""

import re

from playwright.sync_api import expect

from api.worker import Worker
from engine.db import db
from engine.directory.lookup import application_by_key, user_by_username
from tests.flow import decide, submit

pytest_plugins = ["tests.browser"]

UNREACHABLE_SCIM = {
    "type": "scim",
    "base_url": "http://127.0.0.1:9/wiki/v2",  # nothing listens on the discard port
    "token": "wiki-secret-token",
    "matching_attribute": "userName",
    "max_attempts": 1,
}


def test_an_admin_retries_a_failed_provisioning_from_the_incidents_page(log_in, server):
    with server.engine() as app:
        application_by_key("wiki").connector_settings = UNREACHABLE_SCIM
        db.session.commit()
        item = submit(user_by_username("alice"), ("wiki", "bob")).items[0]
        decide(user_by_username("mark"), item)
        decide(user_by_username("gina"), item)
        item_id = item.id
        db.session.commit()
        Worker(app).run_until_idle(timeout=20)

    root = log_in("root")
    root.get_by_role("navigation", name="Main").get_by_role("link", name="Admin").click()
    root.get_by_role("link", name="Provisioning log").click()
    expect(root.locator("tbody tr").first).to_contain_text("failed")
    expect(root.locator("tbody")).not_to_contain_text("wiki-secret-token")
    root.get_by_role("link", name="Incidents").click()
    incident = root.locator(".incident").filter(has_text="Wiki")
    expect(incident).to_contain_text("connection failed")
    incident.get_by_label("Comment for the retry").fill("target is back")
    incident.get_by_role("button", name="Retry").click()
    expect(root.get_by_role("status")).to_contain_text("Retrying: Wiki goes back to provisioning")
    expect(root.get_by_text("No open incident.")).to_be_visible()
    root.goto(f"{server.url}/items/{item_id}")
    expect(root.locator(".page-head")).to_contain_text(re.compile("Provisioning"))
    expect(root.locator(".timeline")).to_contain_text("target is back")
