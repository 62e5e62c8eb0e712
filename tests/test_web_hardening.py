"""An attacker's review of the web edge: body sizes, sign-out, sign-in guessing, redirects, and
malformed input that used to end in a 500."""

import base64
import re
from datetime import timedelta

import pytest
from flask import g
from sqlalchemy import select, update

import engine.directory.authentication
from engine.db import db
from engine.directory.importer import import_directory
from engine.errors import Invalid
from engine.models import AuditEvent, LoginFailure
from engine.requests import cart
from tests.api_client import api  # noqa: F401
from tests.flow import decide, submit
from tests.served import served_sqlite  # noqa: F401

MiB = 1024 * 1024


def assert_problem(answer, status):
    assert answer.status_code == status, answer.get_data(as_text=True)[:300]
    assert answer.mimetype == "application/problem+json"
    body = answer.get_json()
    assert body["status"] == status and body["title"]
    return body


def token_of(client, path="/login") -> str:
    """The CSRF token of `client`'s session, as a page it opens shows it."""
    g.pop("csrf_token", None)  # the fixture's app context outlives requests: no stale token
    page = client.get(path)
    return re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)


def sign_in(client, username="alice", password="alice-pw", **form):
    answer = client.post(
        "/login",
        data={
            "username": username,
            "password": password,
            "csrf_token": token_of(client),
            **form,
        },
    )
    g.pop("csrf_token", None)
    return answer


class Trickle:
    """A request body of `chunks` MiB with no Content-Length, read as the server asks for it."""

    def __init__(self, chunks: int):
        self.left, self.read_bytes = chunks * MiB, 0

    def read(self, size=-1):
        size = MiB if size is None or size < 0 else min(size, MiB)
        size = min(size, self.left)
        self.left -= size
        self.read_bytes += size
        return b"x" * size


def post_chunked(client, path, body: Trickle, headers=None):
    """As a server hands the app a chunked upload: no CONTENT_LENGTH, input terminated."""
    chunked = {
        "wsgi.input": body,
        "wsgi.input_terminated": True,
        "HTTP_TRANSFER_ENCODING": "chunked",
    }
    return client.post(
        path, headers=headers or {}, content_type="application/json", environ_overrides=chunked
    )


# ---- 1. request size


def test_an_oversized_api_body_is_refused_with_413(api):  # noqa: F811
    alice = api["alice"]
    answer = alice.client.post(
        "/api/v1/cart/items",
        data=b'{"justification": "' + b"x" * (3 * MiB) + b'"}',
        headers={**alice.headers, "Content-Type": "application/json"},
    )
    assert_problem(answer, 413)


def test_a_chunked_upload_without_length_is_cut_off_at_the_limit(api):  # noqa: F811
    alice = api["alice"]
    body = Trickle(chunks=400)
    answer = post_chunked(alice.client, "/api/v1/cart/items", body, alice.headers)
    assert_problem(answer, 413)
    assert body.read_bytes <= 3 * MiB  # stopped just past 2 MiB, not after 400 MiB


def test_a_strangers_big_upload_is_refused_before_a_byte_is_read(app):
    body = Trickle(chunks=400)
    assert_problem(post_chunked(app.test_client(), "/api/v1/cart/items", body), 401)
    assert body.read_bytes == 0
    page = Trickle(chunks=400)
    answer = post_chunked(app.test_client(), "/catalog/crm", page)
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]
    assert page.read_bytes == 0


def test_a_designer_file_over_the_limit_is_a_problem_the_modeler_can_show(app):
    import_directory({"users": [{"username": "dora", "password": "dora-pw"}]})
    client = app.test_client()
    assert sign_in(client, "dora", "dora-pw").status_code == 302
    token = token_of(client, "/designer")
    headers = {"X-CSRFToken": token, "Content-Type": "application/xml"}
    big = client.post("/designer/access_request/validate", data=b"<" * (3 * MiB), headers=headers)
    body = assert_problem(big, 413)
    assert body["ok"] is False and "larger than" in body["error"]
    chunked = post_chunked(client, "/designer/access_request/validate", Trickle(400), headers)
    assert_problem(chunked, 413)


def test_an_oversized_form_gets_an_error_page(app):
    client = app.test_client()
    assert sign_in(client).status_code == 302
    token = token_of(client, "/catalog")
    answer = client.post(
        "/catalog/crm", data={"csrf_token": token, "justification": "x" * (3 * MiB)}
    )
    assert answer.status_code == 413
    assert answer.mimetype == "text/html" and "larger than" in answer.text


def test_the_size_limit_is_a_setting(api, app):  # noqa: F811
    assert app.config["MAX_CONTENT_LENGTH"] == 2 * MiB
    app.config["MAX_CONTENT_LENGTH"] = 1000
    alice = api["alice"]
    line = {"application": "crm", "justification": "x" * 400}
    assert alice.post("/api/v1/cart/items", line).status_code == 201
    assert_problem(alice.post("/api/v1/cart/items", {**line, "justification": "x" * 1000}), 413)


# ---- 2. signing out on the server


def test_captured_cookie_stops_working_after_logout(app):
    browser, thief = app.test_client(), app.test_client()
    assert sign_in(browser).status_code == 302
    thief.set_cookie("session", browser.get_cookie("session").value)
    assert thief.get("/inbox").status_code == 200
    token = token_of(browser, "/inbox")
    assert browser.post("/logout", data={"csrf_token": token}).status_code == 302
    answer = thief.get("/inbox")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]


def test_a_new_password_ends_open_sessions_and_the_same_one_keeps_them(app):
    browser = app.test_client()
    assert sign_in(browser).status_code == 302
    import_directory({"users": [{"username": "alice", "password": "alice-pw"}]})
    assert browser.get("/inbox").status_code == 200
    import_directory({"users": [{"username": "alice", "password": "new-pw"}]})
    assert browser.get("/inbox").status_code == 302
    assert sign_in(browser, password="new-pw").status_code == 302


# ---- 3. sign-in throttling


def test_sixth_wrong_password_is_refused_without_hashing_and_audited(app, people, monkeypatch):
    client = app.test_client()
    for _ in range(5):
        assert sign_in(client, password="guess").status_code == 401

    def no_hashing(*_):
        raise AssertionError("a throttled attempt must not check the password")

    monkeypatch.setattr(engine.directory.authentication, "check_password", no_hashing)
    answer = sign_in(client)  # even the right password waits
    assert answer.status_code == 429
    assert 0 < int(answer.headers["Retry-After"]) <= 15 * 60
    assert "Too many failed sign-ins for this account; try again in 15 minutes" in answer.text
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.event == "sign_in_throttled")
    ).all()
    assert [e.details["username"] for e in events] == ["alice"]
    assert "pw" not in str(events[0].details) and "guess" not in str(events[0].details)


def test_a_successful_sign_in_resets_the_account_count(app):
    client = app.test_client()
    for _ in range(4):
        assert sign_in(client, password="guess").status_code == 401
    assert sign_in(client).status_code == 302
    client = app.test_client()
    for _ in range(5):
        assert sign_in(client, password="guess").status_code == 401
    assert sign_in(client, password="guess").status_code == 429


def test_one_address_guessing_many_accounts_is_throttled(app):
    app.config["LOGIN_FAILURES_PER_ADDRESS"] = 3
    client = app.test_client()
    for name in ("bob", "gina", "fred"):
        assert sign_in(client, name, "guess").status_code == 401
    answer = sign_in(client, "fiona", "guess")
    assert answer.status_code == 429
    assert "Too many failed sign-ins from your address" in answer.text


def test_the_lock_lifts_when_the_window_has_passed(app):
    client = app.test_client()
    for _ in range(6):
        sign_in(client, password="guess")
    assert sign_in(client).status_code == 429
    db.session.execute(
        update(LoginFailure).values(window_start=LoginFailure.window_start - timedelta(minutes=16))
    )
    db.session.commit()
    assert sign_in(client).status_code == 302


# ---- 4. open redirects


@pytest.mark.parametrize(
    "target",
    [
        "/\t/evil.example",
        "/\r\n/evil.example",
        "//evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "/ /evil.example",
        "/\u2028/evil.example",
        "/inbox\r\nSet-Cookie: stolen=1",
    ],
)
def test_next_never_leaves_the_site_nor_breaks_the_answer(app, target):
    client = app.test_client()
    answer = sign_in(client, next=target)
    assert answer.status_code == 302 and answer.headers["Location"] == "/"
    again = client.get("/login", query_string={"next": target})
    assert again.status_code == 302 and again.headers["Location"] == "/"
    assert "stolen" not in again.headers.get("Set-Cookie", "")


def test_next_keeps_a_local_path_with_its_query(app):
    answer = sign_in(app.test_client(), next="/inbox?tab=mine")
    assert answer.headers["Location"] == "/inbox?tab=mine"


# ---- 5. malformed input is a 4xx naming the field


def test_json_nested_fifty_thousand_deep_is_400_naming_the_field(api):  # noqa: F811
    alice = api["alice"]
    deep = "[" * 50_000 + "]" * 50_000
    answer = alice.client.post(
        "/api/v1/cart/items",
        data='{"application": "crm", "justification": ' + deep + "}",
        headers={**alice.headers, "Content-Type": "application/json"},
    )
    body = assert_problem(answer, 400)
    assert body["field"] == "justification"


def test_a_deep_array_as_the_whole_body_names_the_body(api):  # noqa: F811
    alice = api["alice"]
    answer = alice.client.post(
        "/api/v1/cart/items",
        data="[" * 50_000,
        headers={**alice.headers, "Content-Type": "application/json"},
    )
    assert "the body" in assert_problem(answer, 400)["detail"]


@pytest.mark.parametrize("field", ["justification", "beneficiary", "application"])
def test_a_lone_surrogate_is_422_naming_the_field(api, field):  # noqa: F811
    alice = api["alice"]
    line = {"application": "crm", field: "ok \ud800"}
    body = assert_problem(alice.post("/api/v1/cart/items", line), 422)
    assert body["field"] == field
    assert alice.get("/api/v1/cart").status_code == 200  # nothing half-stored


def test_a_lone_surrogate_in_a_comment_is_422(api, people):  # noqa: F811
    answer = api["alice"].post(
        "/api/v1/items/6f1c1a52-8a8e-4c1e-9d8e-1c2b3a4d5e6f/cancel", {"reason": "\udfff"}
    )
    assert assert_problem(answer, 422)["field"] == "reason"


@pytest.mark.parametrize(
    "cursor",
    [
        "1e23",
        base64.urlsafe_b64encode(b"1e23").decode(),
        base64.urlsafe_b64encode(b"[1e23, 1e23]").decode(),
        base64.urlsafe_b64encode(b'["2024-01-01T00:00:00", "\\ud800"]').decode(),
        base64.urlsafe_b64encode(b'["\\udfff", "x"]').decode(),
        "%F0%9F",
    ],
)
def test_garbage_paging_cursors_are_422_naming_the_cursor(api, cursor):  # noqa: F811
    alice = api["alice"]
    for path in ("/api/v1/tasks", "/api/v1/requests", "/api/v1/items"):
        assert assert_problem(alice.get(f"{path}?cursor={cursor}"), 422)["field"] == "cursor"


def test_a_provisioning_log_cursor_beyond_any_id_is_422(api):  # noqa: F811
    answer = api["root"].get("/api/v1/admin/provisioning-log?cursor=100000000000000000000000")
    assert assert_problem(answer, 422)["field"] == "cursor"


def test_an_audit_page_far_past_the_end_shows_the_last_page(app):
    import_directory({"users": [{"username": "root", "password": "root-pw"}]})
    client = app.test_client()
    assert sign_in(client, "root", "root-pw").status_code == 302
    assert client.get(f"/admin/audit?page={10**18}").status_code == 200


def test_gunicorn_refuses_a_chunked_upload_past_the_limit(served_sqlite):  # noqa: F811
    alice = served_sqlite.as_("alice")

    def chunks(total):
        sent = 0
        while sent < total:
            sent += 64 * 1024
            yield b"x" * (64 * 1024)

    headers = {"Content-Type": "application/json"}
    answer = alice.post("/api/v1/cart/items", data=chunks(2 * MiB + 128 * 1024), headers=headers)
    assert answer.request.headers["Transfer-Encoding"] == "chunked"
    assert answer.status_code == 413
    assert answer.headers["Content-Type"] == "application/problem+json"
    small = alice.post("/api/v1/cart/items", data=chunks(64 * 1024), headers=headers)
    assert small.status_code == 400  # read whole: not JSON, but not too large either


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/admin/applications/%00/resume",
        "/api/v1/admin/applications/%00/test-connection",
    ],
)
def test_a_nul_in_an_api_path_is_422_not_a_database_error(api, path):  # noqa: F811
    assert assert_problem(api["root"].post(path, {}), 422)["field"] == "path"


def test_nul_characters_in_pages_and_forms_get_an_error_page(app):
    client = app.test_client()
    assert sign_in(client).status_code == 302
    for path in ("/catalog/%00", "/catalog?q=%00", "/items/%00", "/inbox?tab=%00"):
        page = client.get(path)
        assert page.status_code == 422 and "NUL" in page.text, path
    token = token_of(client, "/catalog")
    form = {"csrf_token": token, "beneficiary": "bob", "justification": "a\x00b"}
    answer = client.post("/catalog/crm", data=form)
    assert answer.status_code == 422 and "justification" in answer.text
    nul_next = sign_in(app.test_client(), next="/\x00/evil.example")
    assert nul_next.status_code == 422 and "Location" not in nul_next.headers


def test_an_overlong_account_id_is_refused_by_name(app, people):
    item = submit(people["alice"], ("crm", "alice")).items[0]
    decide(people["mark"], item)
    decide(people["gina"], item)
    with pytest.raises(Invalid) as refused:
        decide(people["fred"], item, account_id="x" * 256)
    assert refused.value.extra["field"] == "account_id"


def test_an_overlong_idempotency_key_is_refused_by_name(app, people):
    cart.add_to_cart(people["alice"], "crm", "alice")
    with pytest.raises(Invalid) as refused:
        cart.submit_cart(people["alice"], "k" * 201)
    assert refused.value.extra["field"] == "idempotency_key"
