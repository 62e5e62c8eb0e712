"""What the provisioning stories share: a fault-injecting proxy, an SMTP inbox, small steps.

The proxy forwards every request to a real scim2-server; it only steps in where the server
cannot misbehave on demand (answer 500 or 429, or swallow an answer after doing the work).
"""

import email
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
import requests
from aiosmtpd.controller import Controller

from engine.db import db
from engine.directory.lookup import application_by_key
from tests.flow import decide, submit
from tests.scim_server import SCIM_TOKEN, free_port

FAST_RETRIES = {"max_attempts": 3, "backoff_base_seconds": 0.05, "backoff_max_seconds": 0.2}


class FaultProxy:
    """A real HTTP proxy on loopback in front of a SCIM server.

    `fail_with(status, times, headers)` answers that status for the next `times` requests
    (None: until `heal()`); `lose_answer(method, hold)` forwards the next such request, then
    drops the connection instead of answering (after `release()` when `hold`); `delay` slows
    every answer down."""

    def __init__(self, base_url: str, delay: float = 0.0):
        parts = urlsplit(base_url)
        self.upstream = f"{parts.scheme}://{parts.netloc}"
        self.path = parts.path.rstrip("/")
        self.delay = delay
        self.on_request = None  # called with (method, path) before a request is forwarded
        self.requests: list[tuple[str, str]] = []
        self._status = None
        self._times = None
        self._headers = {}
        self._hold_method = None
        self._hold = False
        self.held = threading.Event()
        self._release = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """The SCIM base URL to use instead of the real one."""
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.path}"

    def fail_with(self, status: int, times: int | None = None, headers: dict | None = None):
        with self._lock:
            self._status, self._times, self._headers = status, times, headers or {}

    def heal(self):
        with self._lock:
            self._status = None

    def lose_answer(self, method: str, hold: bool = False):
        self._hold_method, self._hold = method, hold

    def release(self):
        self._release.set()

    def _fault(self):
        with self._lock:
            if self._status is None:
                return None
            status = self._status
            if self._times is not None:
                self._times -= 1
                if self._times <= 0:
                    self._status = None
            return status, dict(self._headers)

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                proxy.requests.append((self.command, self.path))
                time.sleep(proxy.delay)
                if proxy.on_request is not None:
                    proxy.on_request(self.command, self.path)
                fault = proxy._fault()
                if fault is not None:  # a hostile target echoes our credentials back
                    detail = f"injected fault; you sent {self.headers.get('Authorization')}"
                    return self._send(fault[0], fault[1], json.dumps({"detail": detail}).encode())
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")
                }
                answer = requests.request(
                    self.command, proxy.upstream + self.path, data=body, headers=headers, timeout=10
                )
                if proxy._hold_method == self.command:
                    proxy._hold_method = None
                    proxy.held.set()
                    if proxy._hold:
                        proxy._release.wait(60)
                    self.close_connection = True
                    return None  # the answer is lost: the caller sees the connection drop
                content_type = answer.headers.get("Content-Type", "application/scim+json")
                return self._send(
                    answer.status_code, {"Content-Type": content_type}, answer.content
                )

            def _send(self, status, headers, data):
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

            def log_message(self, *args):
                pass

        return Handler

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self.release()
        self._server.shutdown()
        self._server.server_close()


class Inbox:
    """Messages a real SMTP server (aiosmtpd) on loopback received."""

    def __init__(self):
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        message = email.message_from_bytes(envelope.content)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    def wait_for(self, count: int = 1, timeout: float = 10.0) -> list:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages


@pytest.fixture
def smtp_inbox():
    """(inbox, port) of a real SMTP server listening on loopback for this test."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def connect_wiki(base_url: str, **settings) -> dict:
    """Point the directory's connected app `wiki` at a SCIM base URL (fast retries)."""
    connector = {
        "type": "scim",
        "base_url": base_url,
        "token": SCIM_TOKEN,
        "matching_attribute": "userName",
        "timeout": 5,
        **FAST_RETRIES,
        **settings,
    }
    app = application_by_key("wiki")
    app.connector_settings = connector
    db.session.commit()
    return connector


def approved_wiki_item(people, beneficiary: str = "alice"):
    """An item for `beneficiary` in wiki, approved by the manager and the approver group."""
    item = submit(people["alice"], ("wiki", beneficiary)).items[0]
    decide(people["mark"], item)
    decide(people["gina"], item)
    return item


def scim_users(base_url: str) -> list[dict]:
    answer = requests.get(
        base_url + "/Users",
        params={"count": 1000},
        headers={"Authorization": f"Bearer {SCIM_TOKEN}"},
        timeout=10,
    )
    answer.raise_for_status()
    return answer.json().get("Resources", [])
