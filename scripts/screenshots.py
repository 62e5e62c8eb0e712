"""Screenshots of the main pages for the README: the demo directory, driven in headless Chromium.

.venv/bin/python scripts/screenshots.py        # writes docs/screenshots/*.png
"""

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.browser import Server, launch_chromium, login  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
LAPTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
DEMO_PASSWORD = "demo"  # noqa: S105 (the demo directory's published password)


def shot(page, name, full_page=True):
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(OUT / f"{name}.png"), full_page=full_page)
    print(f"docs/screenshots/{name}.png")


def as_user(browser, server, username, viewport=LAPTOP):
    return login(browser, server, username, viewport=viewport, password=DEMO_PASSWORD)


def set_scene(server):
    """Requests in several states, so that every page has something to show."""
    from api.worker import Worker
    from engine.db import db
    from engine.directory.lookup import application_by_key, user_by_username
    from engine.requests import cart
    from engine.tasks import actions
    from tests.flow import decide, open_task

    with server.engine() as app:
        wiki = application_by_key("wiki")  # no SCIM server runs here: one failed attempt
        wiki.connector_settings = {**wiki.connector_settings, "max_attempts": 1}
        db.session.commit()
        alice, bob, carol = (user_by_username(n) for n in ("alice", "bob", "carol"))
        mark, gina, fred = (user_by_username(n) for n in ("mark", "gina", "fred"))
        cart.add_to_cart(bob, "erp", "bob", "update", "Purchase orders for the Lyon office")
        cart.add_to_cart(bob, "crm", "carol", "create", "Carol joins the sales team")
        cart.submit_cart(bob)
        cart.add_to_cart(carol, "erp", "carol", "create", "Month-end closing")
        cart.submit_cart(carol)
        request = cart.submit_cart(alice)
        first, second = request.items[0], request.items[1]
        decide(mark, first, comment="Go ahead")
        decide(gina, first, comment="Approved for the Q3 campaign")
        actions.claim_task(fred, open_task(first).id)
        decide(mark, second, comment="OK for Bob")
        wiki_item = request.items[2]
        decide(mark, wiki_item, comment="Sure")
        decide(gina, wiki_item, comment="Approved")
        task_id = open_task(first).id
        Worker(app).run_until_idle(timeout=20)
        return task_id


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    directory = json.loads((ROOT / "demo" / "directory.json").read_text())
    with tempfile.TemporaryDirectory() as home, sync_playwright() as playwright:
        server = Server(Path(home), directory).start()
        browser = launch_chromium(playwright)
        try:
            alice = as_user(browser, server, "alice")
            shot(alice, "catalog")
            alice.get_by_role("link", name="Request access to CRM").click()
            alice.get_by_label("Bob Baker bob").check()
            alice.get_by_label("Justification").fill("Quarterly sales reporting")
            shot(alice, "request_form")
            alice.get_by_role("button", name="Add to cart").click()
            alice.get_by_role("link", name="Request access to Wiki").click()
            alice.get_by_label("Justification").fill("Team documentation")
            alice.get_by_role("button", name="Add to cart").click()
            alice.get_by_role("navigation", name="Main").get_by_role("link", name="Cart").click()
            shot(alice, "cart")
            task_id = set_scene(server)
            alice.get_by_role("navigation", name="Main").get_by_role(
                "link", name="My requests"
            ).click()
            alice.locator(".request-card h2 a").first.click()
            shot(alice, "request_timeline")

            mark = as_user(browser, server, "mark")
            mark.get_by_role("navigation", name="Main").get_by_role("link", name="Inbox").click()
            shot(mark, "inbox")
            fred = as_user(browser, server, "fred")
            fred.goto(f"{server.url}/tasks/{task_id}")
            fred.get_by_label("Account id in CRM").fill("CRM-00042")
            shot(fred, "fulfillment_task")
            fiona = as_user(browser, server, "fiona")
            fiona.goto(f"{server.url}/tasks/{task_id}")
            shot(fiona, "fulfillment_task_claimed", full_page=False)

            dora = as_user(browser, server, "dora")
            dora.goto(f"{server.url}/designer/access_request")
            dora.wait_for_selector('[data-element-id="fulfil_by_hand"]')
            shot(dora, "designer")
            dora.get_by_label("Element", exact=True).select_option("lane_fulfiller")
            dora.get_by_label("Name", exact=True).fill("Helpdesk")
            dora.get_by_role("button", name="Apply name").click()
            dora.get_by_role("button", name="Validate").click()
            dora.wait_for_selector(".af-invalid-note")
            shot(dora, "designer_invalid")

            root = as_user(browser, server, "root")
            root.goto(f"{server.url}/admin/applications")
            shot(root, "admin_applications")
            root.goto(f"{server.url}/admin/applications/wiki")
            shot(root, "admin_application")
            root.goto(f"{server.url}/admin/incidents")
            shot(root, "admin_incidents")
            root.goto(f"{server.url}/admin/provisioning")
            shot(root, "admin_provisioning_log")
            root.goto(f"{server.url}/admin/audit")
            shot(root, "admin_audit")

            phone = as_user(browser, server, "mark", viewport=PHONE)
            phone.get_by_role("navigation", name="Main").get_by_role("link", name="Inbox").click()
            shot(phone, "inbox_phone")
        finally:
            browser.close()
            server.stop()


if __name__ == "__main__":
    main()
