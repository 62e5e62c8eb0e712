"""A real OpenLDAP server (Debian's ``slapd``) run as a subprocess on loopback.

Usage in a test module (fixtures are imported, as with tests/scim_server.py)::

    from tests.ldap_server import ldap_directory, slapd_server  # noqa: F401

* ``slapd_server`` (session): one slapd with a temporary slapd.conf: the mdb backend, the
  suffix ``dc=example,dc=test``, a root DN, the ppolicy overlay (pwdAccountLockedTime), a
  service account the connector binds as, and a size limit of :data:`SIZE_LIMIT` entries for
  searches without the paged-results control (so a test can prove the paging).
  It also listens on ``ldaps://`` (:attr:`SlapdProcess.ldaps_url`) and offers StartTLS, with a
  certificate for 127.0.0.1 signed by a throwaway CA (:attr:`SlapdProcess.ca_file`).
* ``ldap_directory`` (function): a fresh subtree ``ou=t<random>,dc=example,dc=test`` with
  ``ou=people`` and ``ou=disabled`` below it, so every test starts with no entries.

A missing slapd skips the tests on a developer machine and fails them in CI (``CI=true``);
``scripts/setup.sh`` installs it (``apt-get install slapd ldap-utils``).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from ldap3 import ALL_ATTRIBUTES, Connection, Server
from ldap3.core.exceptions import LDAPException

from tests.scim_server import free_port

SUFFIX = "dc=example,dc=test"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PASSWORD = "root-secret-5b1e"
SERVICE_DN = f"cn=accessflow,{SUFFIX}"
SERVICE_PASSWORD = "ldap-bind-secret-7d3a9c"
SIZE_LIMIT = 25  # entries a search without paging may return to the service account
SCHEMA = ("core", "cosine", "inetorgperson")

CONFIG = """\
{includes}
TLSCACertificateFile {workdir}/ca.pem
TLSCertificateFile {workdir}/server.pem
TLSCertificateKeyFile {workdir}/server.key
modulepath {modules}
moduleload back_mdb
{ppolicy_module}
pidfile {workdir}/slapd.pid
argsfile {workdir}/slapd.args
sizelimit size.soft={size_limit} size.hard={size_limit} size.pr=unlimited \
size.prtotal=unlimited

database mdb
maxsize 104857600
suffix "{suffix}"
rootdn "{root_dn}"
rootpw {root_password}
directory {workdir}/data
index objectClass eq
index uid,mail eq
index entryUUID eq
{ppolicy_overlay}
access to attrs=userPassword by anonymous auth by * none
access to * by dn.exact="{service_dn}" manage by * none
"""


def write_certificates(folder: Path) -> None:
    """A throwaway CA (ca.pem) and a server certificate for 127.0.0.1 it signed."""
    now = datetime.datetime.now(datetime.UTC)

    def certificate(subject, issuer, public_key, signer, *, ca: bool):
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            names = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, server_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca = certificate(
        "accessflow test CA", "accessflow test CA", ca_key.public_key(), ca_key, ca=True
    )
    server = certificate(
        "127.0.0.1", "accessflow test CA", server_key.public_key(), ca_key, ca=False
    )
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    (folder / "server.pem").write_bytes(server.public_bytes(pem))
    (folder / "server.key").write_bytes(
        server_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )


def slapd_binary() -> str | None:
    return shutil.which("slapd") or next(
        (p for p in ("/usr/sbin/slapd",) if os.access(p, os.X_OK)), None
    )


class SlapdProcess:
    """Start/stop slapd on a fixed loopback port (a restart keeps the port and the data)."""

    def __init__(self, binary: str, port: int | None = None) -> None:
        self.binary = binary
        self.port = port or free_port()
        self.tls_port = free_port()
        self._workdir = tempfile.TemporaryDirectory(prefix="slapd-")
        self.workdir = Path(self._workdir.name)
        (self.workdir / "data").mkdir()
        self.ppolicy = Path("/usr/lib/ldap/ppolicy.la").exists()
        write_certificates(self.workdir)
        self.ca_file = str(self.workdir / "ca.pem")
        self.config = self.workdir / "slapd.conf"
        self.config.write_text(self._config())
        self._process: subprocess.Popen | None = None
        self.log_path = self.workdir / "slapd.log"

    def _config(self) -> str:
        schema_dir = Path("/etc/ldap/schema")
        return CONFIG.format(
            includes="\n".join(f"include {schema_dir / name}.schema" for name in SCHEMA),
            modules="/usr/lib/ldap",
            ppolicy_module="moduleload ppolicy" if self.ppolicy else "",
            ppolicy_overlay="overlay ppolicy" if self.ppolicy else "",
            workdir=self.workdir,
            size_limit=SIZE_LIMIT,
            suffix=SUFFIX,
            root_dn=ROOT_DN,
            root_password=ROOT_PASSWORD,
            service_dn=SERVICE_DN,
        )

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://127.0.0.1:{self.tls_port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 20.0) -> SlapdProcess:
        if self.running:
            return self
        listen = f"{self.url} {self.ldaps_url}"
        command = [self.binary, "-f", str(self.config), "-h", listen, "-d", "0"]
        with open(self.log_path, "ab") as log:  # -d keeps it in the foreground: we own it
            self._process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"slapd exited with {self._process.returncode}:\n{self.log()}")
            try:
                with self.admin():
                    return self
            except LDAPException:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"slapd did not answer in {timeout}s") from None
                time.sleep(0.05)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def admin(self) -> Connection:
        """A connection bound as the root DN (for the tests' own checks and set-up)."""
        server = Server("127.0.0.1", port=self.port, connect_timeout=2)
        return Connection(
            server, ROOT_DN, ROOT_PASSWORD, auto_bind=True, raise_exceptions=True, receive_timeout=5
        )

    def seed(self) -> None:
        with self.admin() as conn:
            conn.add(SUFFIX, ["dcObject", "organization"], {"o": "Example", "dc": "example"})
            conn.add(
                SERVICE_DN,
                ["organizationalRole", "simpleSecurityObject"],
                {"cn": "accessflow", "userPassword": SERVICE_PASSWORD},
            )

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def close(self) -> None:
        self.stop()
        self._workdir.cleanup()


@dataclass
class LdapDirectory:
    """One test's own subtree in the session's slapd."""

    server: SlapdProcess
    root: str

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def people(self) -> str:
        return f"ou=people,{self.root}"

    @property
    def disabled(self) -> str:
        return f"ou=disabled,{self.root}"

    def settings(self, **overrides) -> dict:
        """Connector settings for this subtree, bound as the service account."""
        return {
            "type": "ldap",
            "url": self.url,
            "bind_dn": SERVICE_DN,
            "bind_password": SERVICE_PASSWORD,
            "base_dn": self.people,
            "timeout": 5,
            **overrides,
        }

    def entries(self, base: str | None = None) -> dict[str, dict]:
        """{DN: attributes (with entryUUID and pwdAccountLockedTime)} of the persons below."""
        with self.server.admin() as conn:
            found = conn.extend.standard.paged_search(
                base or self.root,
                "(objectClass=person)",
                attributes=[ALL_ATTRIBUTES, "entryUUID", "pwdAccountLockedTime"],
                paged_size=100,
                generator=False,
            )
            return {
                e["dn"]: dict(e["raw_attributes"]) for e in found if e["type"] == "searchResEntry"
            }

    def add_person(self, uid: str, **attributes) -> str:
        """Add an inetOrgPerson below ou=people as an administrator would; returns its DN."""
        dn = f"uid={uid},{self.people}"
        values = {"cn": uid, "sn": uid, **attributes}
        with self.server.admin() as conn:
            conn.add(dn, ["inetOrgPerson"], values)
        return dn


@pytest.fixture(scope="session")
def slapd_server():
    """One real slapd for the session (skipped without slapd, except in CI)."""
    binary = slapd_binary()
    if binary is None:
        reason = "slapd is not installed (apt-get install slapd ldap-utils; scripts/setup.sh)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    server = SlapdProcess(binary)
    try:
        server.start()
        server.seed()
        yield server
    finally:
        server.close()


@pytest.fixture
def ldap_directory(slapd_server) -> LdapDirectory:
    """A fresh subtree with ou=people and ou=disabled, in the running slapd."""
    if not slapd_server.running:  # a test may have stopped it
        slapd_server.start()
    root = f"ou=t{uuid.uuid4().hex[:12]},{SUFFIX}"
    with slapd_server.admin() as conn:
        conn.add(root, ["organizationalUnit"], {"ou": root[3:].split(",")[0]})
        conn.add(f"ou=people,{root}", ["organizationalUnit"], {"ou": "people"})
        conn.add(f"ou=disabled,{root}", ["organizationalUnit"], {"ou": "disabled"})
    return LdapDirectory(slapd_server, root)
