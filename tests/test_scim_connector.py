"""User stories for the SCIM 2.0 connector, against a REAL SCIM server.

Every test talks HTTP to ``scim2-server`` running as a subprocess on loopback (see
``tests/scim_server.py``), in its own fresh tenant. Only the 429/5xx/hostile-target
stories use a tiny ``http.server`` on loopback, because scim2-server cannot be made
to answer those statuses on demand.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import traceback
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files

import pytest
import requests

from connectors import (
    ConnectorConfigError,
    ConnectorError,
    MissingAttribute,
    connector_for,
)
from connectors.base import parse_retry_after
from connectors.scim import ScimConnector
from tests import scim_server as server_plugin
from tests.scim_server import SCIM_TOKEN, ScimServerProcess, free_port

# The real-server fixtures (pytest_plugins is only allowed in a conftest).
scim_server_process = server_plugin.scim_server_process
scim_server = server_plugin.scim_server

WRONG_TOKEN = "wrong-token-that-must-never-leak-77"


class CountingSession(requests.Session):
    """A real requests session that remembers every request it is asked to send."""

    def __init__(self):
        super().__init__()
        self.calls: list[tuple[str, str]] = []

    def request(self, method, url, *args, **kwargs):
        self.calls.append((method, url))
        return super().request(method, url, *args, **kwargs)


def make_settings(base_url: str, **overrides) -> dict:
    return {"type": "scim", "base_url": base_url, "token": SCIM_TOKEN, **overrides}


def make_user(username: str = "alice", **overrides) -> dict:
    user = {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"accessflow:{username}")),
        "username": username,
        "email": f"{username}@example.org",
        "display_name": f"{username.title()} Liddell",
        "first_name": username.title(),
        "last_name": "Liddell",
    }
    user.update(overrides)
    return user


def raw(base_url: str, method: str, path: str, **kwargs) -> requests.Response:
    """Talk to the SCIM server directly, bypassing the connector (to check its state)."""
    headers = {"Authorization": f"Bearer {SCIM_TOKEN}", "Content-Type": "application/scim+json"}
    return requests.request(method, base_url + path, headers=headers, timeout=10, **kwargs)


def server_users(base_url: str) -> list[dict]:
    body = raw(base_url, "GET", "/Users", params={"count": 1000}).json()
    return body.get("Resources", [])


@pytest.fixture
def connector(scim_server):
    with ScimConnector(make_settings(scim_server)) as conn:
        yield conn


SPC_DEFAULT = json.loads(
    files("scim2_server").joinpath("resources/default-service-provider-config.json").read_text()
)


@pytest.fixture(scope="module")
def limited_scim_server():
    """A second real scim2-server announcing (and enforcing) no PATCH and 2 results/page."""
    spc = {**SPC_DEFAULT, "patch": {"supported": False}}
    spc["filter"] = {"supported": True, "maxResults": 2}
    with ScimServerProcess(dynamic_tenants=True, service_provider_config=spc) as server:
        yield server


@contextmanager
def stub_http_server(status: int, headers: dict | None = None, body: dict | None = None):
    """A real HTTP server on loopback that answers every request with one canned response.

    Used only where scim2-server cannot produce the answer (5xx, 429 + Retry-After,
    a target echoing our headers back)."""
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self):
            seen.append(dict(self.headers))
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            payload = body
            if callable(body):
                payload = body(self)
            data = json.dumps(payload).encode() if payload is not None else b""
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Type", "application/scim+json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v2", seen
    finally:
        server.shutdown()
        server.server_close()


# --- connection -----------------------------------------------------------------------


def test_connection_reports_service_provider_config(connector):
    summary = connector.test_connection()
    assert summary["ok"] is True
    assert summary["patch"] is True
    assert summary["filter"] is True
    assert summary["max_results"] == 1000
    assert "oauthbearertoken" in summary["auth_schemes"]
    assert summary["total_users"] == 0


def test_connection_with_a_wrong_token_is_rejected_and_not_retryable(scim_server):
    """/ServiceProviderConfig needs no auth (RFC 7644), so the token is proven via /Users."""
    conn = ScimConnector(make_settings(scim_server, token=WRONG_TOKEN))
    with pytest.raises(ConnectorError) as info:
        conn.test_connection()
    assert info.value.status == 401
    assert info.value.retryable is False


# --- create / link --------------------------------------------------------------------


def test_create_account_maps_directory_attributes(connector, scim_server):
    user = make_user("alice")
    account = connector.create_account(user)

    assert account["linked"] is False
    assert account["user_name"] == "alice"
    assert account["active"] is True
    stored = raw(scim_server, "GET", f"/Users/{account['external_id']}").json()
    assert stored["userName"] == "alice"
    assert stored["name"] == {"givenName": "Alice", "familyName": "Liddell"}
    assert stored["displayName"] == "Alice Liddell"
    assert stored["emails"] == [{"value": "alice@example.org", "type": "work", "primary": True}]
    assert stored["active"] is True
    assert stored["externalId"] == user["id"]


def test_attribute_map_overrides_the_default_mapping(scim_server):
    conn = ScimConnector(
        make_settings(
            scim_server,
            attribute_map={
                "userName": "email",
                "displayName": None,
                "nickName": "first_name",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "dept",
            },
        )
    )
    account = conn.create_account(make_user("bob", dept="Research"))
    stored = raw(scim_server, "GET", f"/Users/{account['external_id']}").json()
    assert stored["userName"] == "bob@example.org"
    assert "displayName" not in stored
    assert stored["nickName"] == "Bob"
    enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    assert stored[enterprise] == {"department": "Research"}


def test_creating_an_existing_account_links_it(connector, scim_server):
    first = connector.create_account(make_user("alice"))
    second = connector.create_account(make_user("alice"))

    assert second["linked"] is True
    assert second["external_id"] == first["external_id"]
    assert len(connector.list_accounts()) == 1
    assert len(server_users(scim_server)) == 1


def test_an_account_created_by_someone_else_is_linked(connector, scim_server):
    raw(scim_server, "POST", "/Users", json={"userName": "ALICE"})  # made by a target admin
    account = connector.create_account(make_user("alice"))
    assert account["linked"] is True
    assert account["user_name"] == "ALICE"
    assert len(server_users(scim_server)) == 1


def test_a_409_race_on_create_finds_and_links_the_winner(scim_server):
    """Another worker creates the account between our lookup and our POST."""

    class RacingConnector(ScimConnector):
        raced = False

        def find_account(self, user):
            if not self.raced:
                self.raced = True
                raw(scim_server, "POST", "/Users", json={"userName": user["username"]})
                return None  # our lookup happened just before the other worker's POST
            return super().find_account(user)

    conn = RacingConnector(make_settings(scim_server))
    account = conn.create_account(make_user("alice"))
    assert account["linked"] is True
    assert len(server_users(scim_server)) == 1


def test_a_409_that_matches_nobody_is_not_linked_and_not_retryable(scim_server):
    """userName is taken by an account whose externalId is not ours: never link it."""
    raw(scim_server, "POST", "/Users", json={"userName": "alice", "externalId": "someone-else"})
    conn = ScimConnector(make_settings(scim_server, matching_attribute="externalId"))
    with pytest.raises(ConnectorError) as info:
        conn.create_account(make_user("alice"))
    assert info.value.status == 409
    assert info.value.retryable is False
    assert "uniqueness" in str(info.value)


# --- find -----------------------------------------------------------------------------


@pytest.mark.parametrize("matching", ["userName", "externalId", "emails"])
def test_find_account_by_matching_attribute(scim_server, matching):
    conn = ScimConnector(make_settings(scim_server, matching_attribute=matching))
    created = conn.create_account(make_user("alice"))
    conn.create_account(make_user("bob"))

    found = conn.find_account(make_user("alice"))
    assert found["external_id"] == created["external_id"]
    assert found["linked"] is False
    assert conn.find_account(make_user("carol")) is None


def test_find_account_escapes_quotes_and_backslashes(connector):
    tricky = make_user('o"brien\\x', email="ob@example.org")
    decoy = make_user("o", email="o@example.org")
    connector.create_account(decoy)
    created = connector.create_account(tricky)
    assert created["linked"] is False
    assert connector.find_account(tricky)["external_id"] == created["external_id"]


def test_find_refuses_to_pick_among_several_matches(scim_server):
    for name in ("alice", "alice2"):  # the target does not enforce externalId uniqueness
        raw(scim_server, "POST", "/Users", json={"userName": name, "externalId": "dup"})
    conn = ScimConnector(make_settings(scim_server, matching_attribute="externalId"))
    with pytest.raises(ConnectorError, match="2 accounts match") as info:
        conn.find_account(make_user("alice", id="dup"))
    assert info.value.retryable is False


# --- update / disable / delete ---------------------------------------------------------


def test_update_account_changes_mapped_attributes(connector, scim_server):
    account = connector.create_account(make_user("alice"))
    updated = connector.update_account(
        account["external_id"],
        make_user("alice", email="alice@new.example", last_name="Hargreaves"),
    )
    assert updated["email"] == "alice@new.example"
    stored = raw(scim_server, "GET", f"/Users/{account['external_id']}").json()
    assert stored["name"]["familyName"] == "Hargreaves"
    assert stored["emails"] == [{"value": "alice@new.example", "type": "work", "primary": True}]


def test_update_does_not_re_enable_a_disabled_account(connector):
    account = connector.create_account(make_user("alice"))
    connector.disable_account(account["external_id"])
    updated = connector.update_account(account["external_id"], make_user("alice"))
    assert updated["active"] is False


def test_disable_account_sets_active_false(connector, scim_server):
    account = connector.create_account(make_user("alice"))
    disabled = connector.disable_account(account["external_id"])
    assert disabled["active"] is False
    assert raw(scim_server, "GET", f"/Users/{account['external_id']}").json()["active"] is False


def test_disable_falls_back_to_put_when_the_target_has_no_patch(limited_scim_server):
    base_url = limited_scim_server.tenant_url()
    session = CountingSession()
    conn = ScimConnector(make_settings(base_url), session=session)
    account = conn.create_account(make_user("alice"))
    disabled = conn.disable_account(account["external_id"])
    assert disabled["active"] is False
    stored = raw(base_url, "GET", f"/Users/{account['external_id']}").json()
    assert stored["active"] is False
    assert stored["userName"] == "alice"  # PUT kept the other attributes
    assert stored["name"]["familyName"] == "Liddell"
    methods = [method for method, _ in session.calls]
    assert methods.count("PATCH") == 1  # tried once (501), then remembered
    conn.update_account(account["external_id"], make_user("alice", last_name="H"))
    assert [m for m, _ in session.calls].count("PATCH") == 1


def test_disable_unknown_account_is_not_retryable(connector):
    with pytest.raises(ConnectorError) as info:
        connector.disable_account("no-such-id")
    assert (info.value.status, info.value.retryable) == (404, False)


def test_delete_account_is_hard_when_the_target_supports_it(scim_server):
    conn = ScimConnector(make_settings(scim_server, supports_hard_delete=True))
    account = conn.create_account(make_user("alice"))
    assert conn.delete_account(account["external_id"]) is None
    assert raw(scim_server, "GET", f"/Users/{account['external_id']}").status_code == 404
    assert conn.list_accounts() == []
    conn.delete_account(account["external_id"])  # already gone: fine


def test_delete_account_only_disables_by_default(connector, scim_server):
    account = connector.create_account(make_user("alice"))
    assert connector.delete_account(account["external_id"]) is None
    stored = raw(scim_server, "GET", f"/Users/{account['external_id']}")
    assert stored.status_code == 200
    assert stored.json()["active"] is False


# --- list -----------------------------------------------------------------------------


def test_list_accounts_paginates(scim_server):
    session = CountingSession()
    conn = ScimConnector(make_settings(scim_server, page_size=3), session=session)
    names = {f"user{i}" for i in range(7)}
    for name in names:
        raw(scim_server, "POST", "/Users", json={"userName": name})

    accounts = conn.list_accounts()
    assert {a["user_name"] for a in accounts} == names
    assert len(accounts) == 7
    assert [m for m, _ in session.calls] == ["GET"] * 3  # 3 + 3 + 1


def test_list_accounts_follows_a_server_capped_page_size(limited_scim_server):
    """The connector asks for 100 per page; the server only gives 2 (maxResults)."""
    base_url = limited_scim_server.tenant_url()
    for i in range(5):
        raw(base_url, "POST", "/Users", json={"userName": f"user{i}"})
    accounts = ScimConnector(make_settings(base_url)).list_accounts()
    assert sorted(a["user_name"] for a in accounts) == [f"user{i}" for i in range(5)]


# --- validation and errors -------------------------------------------------------------


@pytest.mark.parametrize(
    ("matching", "missing_field", "attribute"),
    [
        ("userName", "username", "userName"),
        ("externalId", "username", "userName"),
        ("externalId", "id", "externalId"),
        ("emails", "email", "emails"),
    ],
)
def test_missing_mandatory_attribute_names_it_and_makes_no_http_call(
    scim_server, matching, missing_field, attribute
):
    session = CountingSession()
    conn = ScimConnector(make_settings(scim_server, matching_attribute=matching), session=session)
    user = {**make_user("alice"), missing_field: "   "}
    with pytest.raises(MissingAttribute) as info:
        conn.create_account(user)
    assert info.value.attribute == attribute
    assert repr(attribute) in str(info.value)
    assert info.value.retryable is False
    del user[missing_field]
    with pytest.raises(MissingAttribute):
        conn.create_account(user)
    assert session.calls == []
    assert server_users(scim_server) == []


@pytest.mark.processes
def test_target_down_then_up_again():
    """Stopped server -> retryable error; restarted on the same port -> works again."""
    with ScimServerProcess() as server:
        conn = ScimConnector(make_settings(server.base_url, timeout=2))
        conn.create_account(make_user("alice"))
        server.stop()
        with pytest.raises(ConnectorError) as info:
            conn.create_account(make_user("bob"))
        assert info.value.retryable is True
        assert info.value.status is None
        server.start()
        assert conn.create_account(make_user("bob"))["linked"] is False


def test_closed_port_is_retryable():
    conn = ScimConnector(make_settings(f"http://127.0.0.1:{free_port()}/v2", timeout=2))
    with pytest.raises(ConnectorError, match="connection failed") as info:
        conn.test_connection()
    assert info.value.retryable is True


def test_a_target_that_never_answers_times_out_retryably():
    """A loopback socket that accepts connections (backlog) but never responds."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(5)
        port = listener.getsockname()[1]
        conn = ScimConnector(make_settings(f"http://127.0.0.1:{port}/v2", timeout=0.3))
        with pytest.raises(ConnectorError, match="timed out") as info:
            conn.list_accounts()
    assert info.value.retryable is True


def test_a_validation_error_is_not_retryable_and_carries_the_scim_detail(scim_server):
    """A mapping to an attribute the target schema does not know: HTTP 400 from the server."""
    conn = ScimConnector(make_settings(scim_server, attribute_map={"costCenter": "first_name"}))
    with pytest.raises(ConnectorError) as info:
        conn.create_account(make_user("alice"))
    error = info.value
    assert (error.status, error.retryable) == (400, False)
    assert "scimType=invalidSyntax" in str(error)
    assert "costCenter" in str(error)


@pytest.mark.parametrize(
    ("status", "headers", "retryable", "retry_after"),
    [
        (500, {}, True, None),
        (502, {}, True, None),
        (503, {"Retry-After": "7"}, True, 7.0),
        (429, {"Retry-After": "3"}, True, 3.0),
        (429, {}, True, None),
        (501, {}, False, None),
        (403, {}, False, None),
    ],
)
def test_http_status_classification(status, headers, retryable, retry_after):
    """Uses a stub http.server: scim2-server cannot be made to answer 5xx/429 on demand."""
    error_body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                  "status": str(status), "detail": "stub says no"}  # fmt: skip
    with stub_http_server(status, headers, error_body) as (base_url, _):
        conn = ScimConnector(make_settings(base_url))
        with pytest.raises(ConnectorError) as info:
            conn.list_accounts()
    assert info.value.status == status
    assert info.value.retryable is retryable
    assert info.value.retry_after == retry_after
    assert "stub says no" in str(info.value)


def test_retry_after_http_date_form():
    """Stub http.server: a 429 whose Retry-After is an HTTP-date (RFC 9110)."""
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    with stub_http_server(429, {"Retry-After": when}) as (base_url, _):
        with pytest.raises(ConnectorError) as info:
            ScimConnector(make_settings(base_url)).test_connection()
    assert 100 < info.value.retry_after <= 120
    assert parse_retry_after("garbage") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


# --- secrets --------------------------------------------------------------------------


def _assert_no_token(error: BaseException, *tokens: str) -> None:
    texts = [str(error), repr(error), "".join(traceback.format_exception(error))]
    for token in tokens:
        for text in texts:
            assert token not in text


def test_the_token_never_appears_in_errors_reprs_or_logs(scim_server, caplog):
    caplog.set_level(logging.DEBUG)
    good = ScimConnector(make_settings(scim_server))
    wrong = ScimConnector(make_settings(scim_server, token=WRONG_TOKEN))
    for conn in (good, wrong):
        assert "***" in repr(conn)
        assert SCIM_TOKEN not in repr(conn) + str(conn) + repr(vars(conn))
        assert WRONG_TOKEN not in repr(conn) + str(conn) + repr(vars(conn))

    errors = []
    for action in (
        wrong.test_connection,  # 401
        lambda: wrong.create_account(make_user("alice")),  # 401
        lambda: ScimConnector(
            make_settings(f"http://127.0.0.1:{free_port()}/v2", token=WRONG_TOKEN)
        ).find_account(make_user("alice")),  # connection refused
        lambda: ScimConnector(
            make_settings(scim_server, attribute_map={"x": "username"})
        ).create_account(make_user("alice")),  # 400 from the server
    ):
        try:
            action()
        except ConnectorError as exc:
            errors.append(exc)
    assert len(errors) == 4
    for error in errors:
        _assert_no_token(error, SCIM_TOKEN, WRONG_TOKEN)
    assert caplog.records  # the connector and urllib3 did log at DEBUG...
    assert SCIM_TOKEN not in caplog.text  # ...but never the token
    assert WRONG_TOKEN not in caplog.text


def test_a_target_echoing_our_authorization_header_is_redacted():
    """Stub http.server: a (misbehaving) target that puts our request headers in its error."""

    def echo(handler):
        return {"detail": f"bad request, you sent {dict(handler.headers)}", "status": "400"}

    with stub_http_server(400, {}, echo) as (base_url, seen):
        with pytest.raises(ConnectorError) as info:
            ScimConnector(make_settings(base_url)).test_connection()
    assert seen[0]["Authorization"] == f"Bearer {SCIM_TOKEN}"  # it was sent...
    _assert_no_token(info.value, SCIM_TOKEN)  # ...but never shows up in our error
    assert "Bearer ***" in str(info.value)


# --- settings -------------------------------------------------------------------------


def test_connector_for_picks_the_scim_connector(scim_server):
    conn = connector_for(make_settings(scim_server))
    assert isinstance(conn, ScimConnector)
    assert conn.test_connection()["ok"] is True


@pytest.mark.parametrize(
    "settings",
    [
        {"type": "ldap", "base_url": "http://x"},
        {"base_url": "http://x"},
        {"type": "scim"},
        {"type": "scim", "base_url": "ftp://x"},
        {"type": "scim", "base_url": "https://user:pw@x/scim"},
        {"type": "scim", "base_url": "http://x", "matching_attribute": "nickName"},
        {"type": "scim", "base_url": "http://x", "timeout": 0},
        {"type": "scim", "base_url": "http://x", "supports_hard_delete": "yes"},
        {"type": "scim", "base_url": "http://x", "attribute_map": {"userName": None}},
        {"type": "scim", "base_url": "http://x", "token": ""},
        "not a dict",
    ],
)
def test_bad_settings_raise_config_errors(settings):
    with pytest.raises(ConnectorConfigError) as info:
        connector_for(settings)
    assert info.value.retryable is False
    assert "pw" not in str(info.value)


def test_required_attributes_refuse_a_create_before_any_call_and_iter_accounts_maps_back(
    scim_server,
):
    session = CountingSession()
    settings = make_settings(scim_server, required_attributes=["department"], page_size=2)
    conn = ScimConnector(settings, session=session)
    with pytest.raises(MissingAttribute) as info:
        conn.create_account(make_user("alice"))
    assert info.value.attribute == "department" and session.calls == []
    conn.create_account(make_user("alice", department="Sales"))
    conn.create_account(make_user("bob", department="Sales"))
    conn.create_account(make_user("carol", department="Sales"))
    session.calls.clear()

    accounts = list(conn.iter_accounts())

    assert [m for m, _ in session.calls] == ["GET", "GET"]  # pages of 2: 2 + 1
    alice = next(a for a in accounts if a["user_name"] == "alice")
    assert alice["attributes"] == {
        "username": "alice",
        "first_name": "Alice",
        "last_name": "Liddell",
        "display_name": "Alice Liddell",
        "email": "alice@example.org",
        "id": make_user("alice")["id"],
    }
    assert alice["active"] is True and alice["external_id"]
    with pytest.raises(ConnectorError):
        ScimConnector(make_settings(scim_server, required_attributes="department"))
