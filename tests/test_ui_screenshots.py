"""The screenshot script shoots every first-run page, and none is wider than a phone at 390 px."""

import importlib.util
import json
from pathlib import Path

pytest_plugins = ["tests.browser"]

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "screenshots.py"


def load_script():
    spec = importlib.util.spec_from_file_location("screenshots", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_first_run_page_is_shot_and_fits_a_phone(chromium, tmp_path):
    from tests.browser import Server  # after pytest_plugins has loaded it, rewritten

    screenshots = load_script()
    home = tmp_path / "home"
    home.mkdir()
    server = Server(home, json.loads(screenshots.DEMO.read_text())).start()
    try:
        too_wide = screenshots.capture(
            chromium, server, tmp_path / "shots", screenshots.DEMO_PASSWORD
        )
    finally:
        server.stop()
    shot = {path.name for path in (tmp_path / "shots").glob("*.png")}
    for name in ("login", "catalog", "cart", "inbox", "item", "fulfillment_task", "admin_audit"):
        assert {f"{name}.png", f"{name}_phone.png"} <= shot
    assert too_wide == {}, f"wider than the screen: {too_wide}"
