"""A real SCIM 2.0 server (the ``scim2-server`` package) run as a subprocess on loopback.

Usage in a test module (fixtures cannot be shared through ``pytest_plugins`` outside
a conftest, so import them)::

    from tests.scim_server import scim_server, scim_server_process  # noqa: F401

* ``scim_server_process`` (session): one server started with
  ``scim2-server --hostname 127.0.0.1 --port <free> --dynamic-tenants --bearer-token <TOKEN>``.
* ``scim_server`` (function): the base URL of a brand-new tenant on that server,
  ``http://127.0.0.1:<port>/<tenant>/v2``, so every test starts with no users.
  Requests must carry ``Authorization: Bearer`` :data:`SCIM_TOKEN`.

For "target down, then up again" scenarios, drive a :class:`ScimServerProcess`
yourself: ``stop()`` then ``start()`` reuse the same port. The storage is in memory,
so a restart loses every resource.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import requests

SCIM_TOKEN = "test-scim-token-9f4c2a"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _command() -> list[str]:
    script = Path(sys.executable).with_name("scim2-server")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "scim2_server.testserver.cli"]


class ScimServerProcess:
    """Start/stop ``scim2-server`` on demand; the port stays the same across restarts.

    :param bearer_token: the only token the server accepts (None: accept anything).
    :param dynamic_tenants: serve a fresh tenant at ``/<name>/v2`` on first use.
    :param service_provider_config: a ServiceProviderConfig dict announced (and
        enforced: e.g. ``patch.supported: false`` makes PATCH answer 501,
        ``filter.maxResults`` caps the page size) instead of the default one.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        bearer_token: str | None = SCIM_TOKEN,
        dynamic_tenants: bool = False,
        service_provider_config: dict | None = None,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.bearer_token = bearer_token
        self.dynamic_tenants = dynamic_tenants
        self.service_provider_config = service_provider_config
        self._process: subprocess.Popen | None = None
        self._workdir = tempfile.TemporaryDirectory(prefix="scim2-server-")
        self.log_path = Path(self._workdir.name) / "server.log"

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The SCIM base URL without tenant (use :meth:`tenant_url` with dynamic tenants)."""
        return f"{self.root_url}/v2"

    def tenant_url(self, tenant: str | None = None) -> str:
        """The base URL of a tenant (a new, empty one when no name is given)."""
        if not self.dynamic_tenants:
            raise RuntimeError("start the server with dynamic_tenants=True to use tenants")
        return f"{self.root_url}/{tenant or 't' + uuid.uuid4().hex[:12]}/v2"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def command(self) -> list[str]:
        cmd = [*_command(), "--hostname", self.host, "--port", str(self.port)]
        if self.bearer_token:
            cmd += ["--bearer-token", self.bearer_token]
        if self.dynamic_tenants:
            cmd.append("--dynamic-tenants")
        if self.service_provider_config is not None:
            spc_path = Path(self._workdir.name) / "service-provider-config.json"
            spc_path.write_text(json.dumps(self.service_provider_config))
            cmd += ["--service-provider-config", str(spc_path)]
        return cmd

    def start(self, timeout: float = 20.0) -> ScimServerProcess:
        if self.running:
            return self
        with open(self.log_path, "ab") as log:  # a file, not a pipe: a full pipe blocks
            self._process = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"scim2-server exited with {self._process.returncode}:\n{self.log()}"
                )
            try:
                # Any HTTP answer (even "unknown tenant") means the server is serving.
                requests.get(f"{self.root_url}/v2/ServiceProviderConfig", timeout=1)
                return self
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"scim2-server did not answer in {timeout}s") from None
                time.sleep(0.05)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def restart(self) -> ScimServerProcess:
        self.stop()
        return self.start()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def close(self) -> None:
        self.stop()
        self._workdir.cleanup()

    def __enter__(self) -> ScimServerProcess:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ScimServerProcess({self.root_url}, running={self.running})"


@pytest.fixture(scope="session")
def scim_server_process():
    """One real scim2-server for the session, with dynamic tenants and a bearer token."""
    server = ScimServerProcess(dynamic_tenants=True)
    with server:
        yield server


@pytest.fixture
def scim_server(scim_server_process) -> str:
    """The SCIM base URL of a fresh, empty tenant (token: :data:`SCIM_TOKEN`)."""
    if not scim_server_process.running:  # a test may have stopped it
        scim_server_process.start()
    return scim_server_process.tenant_url()
