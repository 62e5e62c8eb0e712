"""Usable without a mouse and on a phone: keyboard only, visible focus, no sideways scrolling."""

from playwright.sync_api import expect

from engine.directory.lookup import user_by_username
from tests.flow import decide, open_task, submit

pytest_plugins = ["tests.browser"]

PHONE = {"width": 390, "height": 844}


def test_an_employee_logs_in_and_fills_the_cart_with_the_keyboard_only(chromium, server):
    page = chromium.new_page()
    page.goto(f"{server.url}/login")
    expect(page.get_by_label("Username")).to_be_focused()  # autofocus
    page.keyboard.type("alice")
    page.keyboard.press("Tab")
    page.keyboard.type("alice-browser-pw")
    page.keyboard.press("Enter")
    page.wait_for_url("**/catalog")

    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    assert skip.evaluate("e => getComputedStyle(e).top") != "-48px"  # shown when focused
    page.keyboard.press("Enter")
    link = page.get_by_role("link", name="Request access to CRM")
    link.focus()
    outline = link.evaluate("e => getComputedStyle(e).outlineStyle")
    assert outline not in ("", "none")  # the focus is visible
    page.keyboard.press("Enter")
    page.wait_for_url("**/catalog/crm")
    page.get_by_label("Justification").focus()
    page.keyboard.type("Keyboard only")
    page.keyboard.press("Tab")  # to "Add to cart"
    expect(page.get_by_role("button", name="Add to cart")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("CRM for Alice Archer added")
    page.context.close()


def test_the_main_pages_fit_a_phone_screen(log_in, server):
    with server.engine():
        item = submit(user_by_username("alice"), ("crm", "bob")).items[0]
        decide(user_by_username("mark"), item)
        decide(user_by_username("gina"), item)
        task_id = open_task(item).id
    fred = log_in("fred", viewport=PHONE)
    for path in ("/catalog", "/catalog/crm", "/cart", "/requests", "/inbox", f"/tasks/{task_id}"):
        fred.goto(f"{server.url}{path}")
        width = fred.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{path} scrolls sideways ({width}px)"
    expect(fred.get_by_label("Account id in CRM")).to_be_visible()
