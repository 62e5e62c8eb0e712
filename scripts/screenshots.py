"""Screenshots of the first-run pages at laptop and phone width: the demo directory, driven in
headless Chromium, with requests in several states so that every page has something to show.

.venv/bin/python scripts/screenshots.py        # writes docs/screenshots/*.png

Each page is shot at 1280 px (`<name>.png`) and at 390 px (`<name>_phone.png`); a page wider than
the phone's screen is reported (tests/test_ui_screenshots.py runs the same capture).
"""

import json
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.browser import Server, launch_chromium, login  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
DEMO = ROOT / "demo" / "directory.json"
LAPTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
DEMO_PASSWORD = "demo"  # noqa: S105 (the demo directory's published password)


class Shot(NamedTuple):
    name: str
    user: str | None  # None: not signed in
    path: str


def set_scene(server) -> dict:
    """Requests in several states; returns the ids the pages are found by."""
    from api.worker import Worker
    from engine.db import db
    from engine.directory.lookup import application_by_key, user_by_username
    from engine.models import Account
    from engine.requests import cart
    from engine.tasks import actions
    from engine.unit_of_work import unit_of_work
    from tests.flow import decide, open_task

    with server.engine() as app:
        wiki = application_by_key("wiki")  # no SCIM server runs here: one failed attempt
        wiki.connector_settings = {**wiki.connector_settings, "max_attempts": 1}
        db.session.commit()
        alice, bob, carol = (user_by_username(n) for n in ("alice", "bob", "carol"))
        mark, gina, fred = (user_by_username(n) for n in ("mark", "gina", "fred"))
        erp = application_by_key("erp")
        with unit_of_work():  # bob and alice hold ERP accounts: their updates act on them
            for holder, external_id in ((bob, "ERP-bob"), (alice, "ERP-alice")):
                db.session.add(
                    Account(user_id=holder.id, application_id=erp.id, external_id=external_id)
                )
        with unit_of_work():
            cart.add_to_cart(bob, "erp", "bob", "update", "Purchase orders for the Lyon office")
            cart.add_to_cart(bob, "crm", "carol", "create", "Carol joins the sales team")
            cart.submit_cart(bob)
            cart.add_to_cart(carol, "erp", "carol", "create", "Month-end closing")
            cart.submit_cart(carol)
            cart.add_to_cart(alice, "crm", "alice", "create", "Quarterly sales reporting")
            cart.add_to_cart(alice, "crm", "bob", "create", "Quarterly sales reporting")
            cart.add_to_cart(alice, "wiki", "alice", "create", "Team documentation")
            request = cart.submit_cart(alice)
        first, second, wiki_item = request.items
        decide(mark, first, comment="Go ahead")
        decide(gina, first, comment="Approved for the Q3 campaign")
        with unit_of_work():
            actions.claim_task(fred, open_task(first).id)
        decide(mark, second, comment="OK for Bob")
        decide(mark, wiki_item, comment="Sure")
        decide(gina, wiki_item, comment="Approved")
        Worker(app).run_until_idle(timeout=20)
        with unit_of_work():  # what alice's cart holds next: one line an open request blocks
            cart.add_to_cart(alice, "erp", "alice", "update", "Month-end closing")
            cart.add_to_cart(alice, "wiki", "alice", "create", "Team documentation")
        return {
            "request": request.id,
            "item": first.id,
            "task": open_task(first).id,
            "failed_task": open_task(wiki_item).id,
        }


def shots(scene: dict) -> list[Shot]:
    task, failed = f"/tasks/{scene['task']}", f"/tasks/{scene['failed_task']}"
    return [
        Shot("login", None, "/login"),
        Shot("catalog", "alice", "/catalog"),
        Shot("request_form", "alice", "/catalog/crm"),
        Shot("cart", "alice", "/cart"),
        Shot("requests", "alice", "/requests"),
        Shot("request_timeline", "alice", f"/requests/{scene['request']}"),
        Shot("item", "alice", f"/items/{scene['item']}"),
        Shot("inbox", "mark", "/inbox"),
        Shot("fulfiller_inbox", "fred", "/inbox"),
        Shot("fulfillment_task", "fred", task),
        Shot("fulfillment_task_claimed", "fiona", task),
        Shot("failed_provisioning_task", "fred", failed),
        Shot("designer", "dora", "/designer/access_request"),
        Shot("admin_applications", "root", "/admin/applications"),
        Shot("admin_application", "root", "/admin/applications/wiki"),
        Shot("admin_incidents", "root", "/admin/incidents"),
        Shot("admin_provisioning_log", "root", "/admin/provisioning"),
        Shot("admin_audit", "root", "/admin/audit"),
    ]


def capture(browser, server, out: Path, password: str) -> dict[str, int]:
    """Shoot every page at both widths into `out`; returns {page: its width in px} for each
    page wider than the phone's screen (none, when the pages are right)."""
    out.mkdir(parents=True, exist_ok=True)
    scene = set_scene(server)
    too_wide = {}
    for viewport, suffix in ((LAPTOP, ""), (PHONE, "_phone")):
        pages = {}
        for shot in shots(scene):
            if shot.user not in pages:
                pages[shot.user] = _page(browser, server, shot.user, viewport, password)
            page = pages[shot.user]
            page.goto(f"{server.url}{shot.path}")
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(out / f"{shot.name}{suffix}.png"), full_page=True)
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > page.evaluate("window.innerWidth"):
                too_wide[f"{shot.name}{suffix}"] = width
        for page in pages.values():
            page.context.close()
    return too_wide


def designer_invalid(browser, server, out: Path, password: str) -> None:
    """The modeler after a lane was renamed so the workflow no longer validates."""
    dora = login(browser, server, "dora", viewport=LAPTOP, password=password)
    dora.goto(f"{server.url}/designer/access_request")
    dora.wait_for_selector('[data-element-id="fulfil_by_hand"]')
    dora.get_by_label("Element", exact=True).select_option("lane_fulfiller")
    dora.get_by_label("Name", exact=True).fill("Helpdesk")
    dora.get_by_role("button", name="Apply name").click()
    dora.get_by_role("button", name="Validate").click()
    dora.wait_for_selector(".af-invalid-note")
    dora.screenshot(path=str(out / "designer_invalid.png"), full_page=True)
    dora.context.close()


def _page(browser, server, username: str | None, viewport: dict, password: str):
    if username is None:
        return browser.new_context(viewport=viewport).new_page()
    return login(browser, server, username, viewport=viewport, password=password)


def main() -> int:
    directory = json.loads(DEMO.read_text())
    with tempfile.TemporaryDirectory() as home, sync_playwright() as playwright:
        server = Server(Path(home), directory).start()
        browser = launch_chromium(playwright)
        try:
            too_wide = capture(browser, server, OUT, DEMO_PASSWORD)
            designer_invalid(browser, server, OUT, DEMO_PASSWORD)
        finally:
            browser.close()
            server.stop()
    print(f"screenshots in {OUT.relative_to(ROOT)}/")
    for name, width in too_wide.items():
        print(f"{name}: {width} px wide, more than the screen", file=sys.stderr)
    return 1 if too_wide else 0


if __name__ == "__main__":
    sys.exit(main())
