"""The web pages without a browser: login, CSRF, security headers, who may open what."""

import re

import pytest
from flask import g

from engine.directory.importer import import_directory
from engine.directory.tokens import issue_token
from engine.requests.cart import list_cart
from tests.flow import act, submit


@pytest.fixture
def client(app):
    act(
        import_directory,
        {
            "users": [
                {"username": "root", "password": "root-pw"},
                {"username": "dora", "password": "dora-pw"},
            ]
        },
    )
    return app.test_client()


def token_of(page) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)


def log_in(client, username, password):
    answer = client.post(
        "/login",
        data={
            "username": username,
            "password": password,
            "csrf_token": token_of(client.get("/login")),
        },
    )
    assert answer.status_code == 302, answer.text
    # The fixture's app context outlives requests, so Flask-WTF's per-request token cache in `g`
    # would still hold the pre-login token; a real server starts each request afresh.
    g.pop("csrf_token", None)
    return token_of(client.get("/catalog"))


def test_pages_send_security_headers(client):
    page = client.get("/login")
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "same-origin"
    assert "<script>" not in page.text  # every script is a file under /assets
    assert client.head("/login").status_code == 200


def test_login_sets_a_fresh_httponly_samesite_session(client):
    client.get("/login")
    answer = client.post(
        "/login",
        data={
            "username": "alice",
            "password": "alice-pw",
            "csrf_token": token_of(client.get("/login")),
        },
    )
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.get("/inbox").status_code == 200


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(client):
    answer = client.post(
        "/login",
        data={
            "username": "alice",
            "password": "nope",
            "csrf_token": token_of(client.get("/login")),
        },
    )
    assert answer.status_code == 401
    assert "Unknown username or wrong password." in answer.text
    assert "nope" not in answer.text
    assert client.get("/inbox").status_code == 302


def test_anonymous_visitors_are_sent_to_login_and_back(client):
    answer = client.get("/inbox?tab=claimed")
    assert answer.status_code == 302
    assert answer.location == "/login?next=/inbox?tab%3Dclaimed"


def test_login_never_redirects_to_another_site(client):
    answer = client.post(
        "/login",
        data={
            "username": "alice",
            "password": "alice-pw",
            "next": "//evil.example/",
            "csrf_token": token_of(client.get("/login")),
        },
    )
    assert answer.location == "/"


def test_a_form_post_without_a_csrf_token_is_refused_and_changes_nothing(client, people):
    token = log_in(client, "alice", "alice-pw")
    form = {"beneficiary": "alice", "account_mode": "create", "justification": "x"}
    assert client.post("/catalog/crm", data=form).status_code == 400
    assert client.post("/catalog/crm", data={**form, "csrf_token": "forged"}).status_code == 400
    assert (
        client.post("/login", data={"username": "alice", "password": "alice-pw"}).status_code == 400
    )
    assert list_cart(people["alice"]) == []
    assert client.post("/catalog/crm", data={**form, "csrf_token": token}).status_code == 303
    assert len(list_cart(people["alice"])) == 1


def test_the_api_is_not_csrf_checked(client):
    headers = {"Authorization": f"Bearer {act(issue_token, 'alice')}"}
    answer = client.post(
        "/api/v1/cart/items", json={"application": "crm", "beneficiary": "bob"}, headers=headers
    )
    assert answer.status_code == 201, answer.text


def test_a_domain_error_shows_the_form_again_with_its_status(client, people):
    token = log_in(client, "alice", "alice-pw")
    answer = client.post(
        "/catalog/crm", data={"beneficiary": "nobody", "csrf_token": token, "justification": "x"}
    )
    assert answer.status_code == 422
    assert "unknown user &#39;nobody&#39;" in answer.text
    assert 'aria-invalid="true"' in answer.text


def test_employees_cannot_open_admin_or_designer_pages(client):
    token = log_in(client, "alice", "alice-pw")
    assert client.get("/admin/audit").status_code == 403
    assert client.get("/admin/applications/wiki").status_code == 403
    assert client.get("/designer").status_code == 403
    answer = client.post(
        "/designer/access_request/deploy", data="<x/>", headers={"X-CSRFToken": token}
    )
    assert answer.status_code == 403 and answer.json["ok"] is False


def test_connector_secrets_are_never_shown_back(client):
    log_in(client, "root", "root-pw")
    page = client.get("/admin/applications/wiki")
    assert page.status_code == 200
    assert "wiki-secret-token" not in page.text
    assert "********" in page.text and "http://127.0.0.1:9/wiki/v2" in page.text


def test_test_connection_reports_the_connector_error(client):
    token = log_in(client, "root", "root-pw")
    answer = client.post("/admin/applications/wiki/test", data={"csrf_token": token})
    assert answer.status_code == 422
    assert "connection failed" in answer.text
    assert "wiki-secret-token" not in answer.text


def test_the_audit_log_is_searchable(client, people):
    submit(people["alice"], ("crm", "bob"))
    log_in(client, "root", "root-pw")
    by_alice = client.get("/admin/audit?actor=alice&q=needed")
    assert "1 event" in by_alice.text and "submitted" in by_alice.text
    nothing = client.get("/admin/audit?actor=alice&q=unrelated")
    assert "No event matches." in nothing.text


def test_the_designer_serves_the_deployed_bpmn(client):
    log_in(client, "dora", "dora-pw")
    assert "access_request" in client.get("/designer").text
    page = client.get("/designer/access_request")
    assert page.status_code == 200 and "bpmn-modeler.production.min.js" in page.text
    xml = client.get("/designer/access_request/versions/1.bpmn")
    assert xml.mimetype == "application/xml" and b'id="access_request"' in xml.data
