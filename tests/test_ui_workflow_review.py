"""The designer's review pages without a browser: drafts listed, the diff shown, four eyes kept."""

import re
from pathlib import Path

from flask import g

from engine.workflow.bpmn import latest_version
from tests.test_ui_pages import client, log_in  # noqa: F401  (the client fixture, with passwords)

SHIPPED = (Path(__file__).parent.parent / "workflows" / "access_request.bpmn").read_text()
LOOSER = SHIPPED.replace('decision == "approve"', 'decision != "reject"', 1)


def _deploy(client, token, content):  # noqa: F811
    return client.post(
        "/designer/access_request/deploy",
        data=content,
        headers={"X-CSRFToken": token, "Content-Type": "application/xml"},
    )


def _own_browser(app):
    """A second test client (its own session): the fixture's app context shares `g`, so its
    cached CSRF token, which belongs to the first session, is dropped."""
    g.pop("csrf_token", None)
    return app.test_client()


def _element(page, element_id) -> str:
    found = re.search(
        rf'<li class="diff-element" data-element-id="{element_id}">(.*?)</li>', page, re.S
    )
    assert found, f"{element_id} is not on the review page"
    return found.group(1)


def test_review_page_shows_the_changed_condition_and_only_someone_else_approves(client, app):  # noqa: F811
    token = log_in(client, "dora", "dora-pw")
    deployed = _deploy(client, token, LOOSER)
    assert deployed.status_code == 201, deployed.text
    assert deployed.json["status"] == "draft"
    assert deployed.json["location"] == "/designer/access_request/versions/2"
    assert "Review access_request v2" in client.get("/designer").text

    own = client.get("/designer/access_request/versions/2").text
    assert "You deployed this draft" in own and "Approve version 2" not in own
    refused = client.post("/designer/access_request/versions/2/approve", data={"csrf_token": token})
    assert refused.status_code == 403 and "you deployed this draft" in refused.text
    assert latest_version("access_request").version == 1

    client = _own_browser(app)
    token = log_in(client, "root", "root-pw")
    page = client.get("/designer/access_request/versions/2").text
    assert "0 added · 0 removed · 1 changed" in page
    flow = _element(page, "f_manager_yes")
    assert re.search(r'diff-old"><del><code>decision == &#34;approve&#34;</code>', flow)
    assert re.search(r'diff-new"><ins><code>decision != &#34;reject&#34;</code>', flow)
    approved = client.post(
        "/designer/access_request/versions/2/approve",
        data={"csrf_token": token, "comment": "looks right"},
    )
    assert approved.status_code == 303
    assert latest_version("access_request").version == 2
    assert "No draft is waiting for review." in client.get("/designer").text


def test_rejecting_without_a_reason_shows_the_form_again_and_keeps_the_draft(client, app):  # noqa: F811
    token = log_in(client, "dora", "dora-pw")
    _deploy(client, token, LOOSER)
    client = _own_browser(app)
    token = log_in(client, "root", "root-pw")
    answer = client.post("/designer/access_request/versions/2/reject", data={"csrf_token": token})
    assert answer.status_code == 422
    assert 'id="comment"' in answer.text and 'aria-invalid="true"' in answer.text
    rejected = client.post(
        "/designer/access_request/versions/2/reject",
        data={"csrf_token": token, "comment": "approves on anything but reject"},
    )
    assert rejected.status_code == 303
    page = client.get("/designer/access_request/versions/2").text
    assert "approves on anything but reject" in page and "Approve version 2" not in page
    assert latest_version("access_request").version == 1
