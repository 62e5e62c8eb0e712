"""LDAP connector (``ldap3``) for directories such as OpenLDAP and Active Directory.

An account's ``external_id`` is the entry's ``entryUUID`` (RFC 4530; ``objectGUID`` on Active
Directory): unlike the DN it survives a rename (modrdn) and the ``move`` disable strategy, so
the account we hold on record still finds its entry after either. Every value put in a filter
or a DN is escaped (ldap3.utils.conv.escape_filter_chars, ldap3.utils.dn.escape_rdn).

The bind password lives in a :class:`~connectors.base.Secret`; ldap3's Connection repr shows
its password, so the connection forgets it right after the bind, and messages are redacted.
"""

from __future__ import annotations

import logging
import math
import ssl
from collections.abc import Iterator
from contextlib import contextmanager

from ldap3 import BASE, MODIFY_DELETE, MODIFY_REPLACE, NONE, SUBTREE, Connection, Server, Tls
from ldap3.core.exceptions import (
    LDAPCommunicationError,
    LDAPException,
    LDAPOperationResult,
    LDAPResponseTimeoutError,
)
from ldap3.utils.dn import escape_rdn, to_dn

from .base import Connector, ConnectorError, redact
from .ldap_mapping import EntryMapping, account_disabled_uac, is_under
from .ldap_settings import LdapSettings

log = logging.getLogger(__name__)

# LDAP result codes worth retrying: timeLimitExceeded, busy, unavailable, and the client-side
# serverDown, timeout and connectError.
RETRYABLE_RESULTS = frozenset({3, 51, 52, 81, 85, 91})
NO_SUCH_OBJECT = 32
ALREADY_EXISTS = 68


class LdapResultError(ConnectorError):
    """The server answered an operation with an error result code (``result``)."""

    def __init__(self, message: str, result: int) -> None:
        super().__init__(message, retryable=result in RETRYABLE_RESULTS)
        self.result = result


class LdapConnector(Connector):
    """Provision users as entries of an LDAP directory (see the module docstring)."""

    label = "LDAP"

    def __init__(self, settings: dict) -> None:
        self.settings = LdapSettings.read(settings)
        self.mapping = EntryMapping(self.settings)
        self._connection: Connection | None = None

    def __repr__(self) -> str:
        s = self.settings
        return (
            f"LdapConnector(host={s.host!r}, port={s.port}, base_dn={s.base_dn!r}, "
            f"bind_dn={s.bind_dn!r}, bind_password={s.bind_password!r})"
        )

    # -- plumbing ----------------------------------------------------------------------------

    @contextmanager
    def _ldap(self, what: str):
        """Turn ldap3 errors into ConnectorErrors: retryable when the server is down or busy."""
        try:
            yield
        except LDAPOperationResult as exc:
            code = exc.result
            retryable = code in RETRYABLE_RESULTS
            if retryable:
                self._drop()
            detail = f": {exc.message}" if exc.message else ""
            message = f"LDAP {what} failed: {exc.description} ({code}){detail}"
            raise LdapResultError(self._redact(message), code) from None
        except (LDAPCommunicationError, LDAPResponseTimeoutError) as exc:
            self._drop()
            if "certificate" in str(exc).lower():  # verification failed: retrying cannot help
                message = f"LDAP {what}: TLS certificate refused ({type(exc).__name__}: {exc})"
                raise ConnectorError(self._redact(message), retryable=False) from None
            message = f"LDAP {what}: server unreachable ({type(exc).__name__}: {exc})"
            raise ConnectorError(self._redact(message), retryable=True) from None
        except LDAPException as exc:
            self._drop()
            message = f"LDAP {what} failed ({type(exc).__name__}: {exc})"
            raise ConnectorError(self._redact(message), retryable=False) from None

    def _redact(self, text: str) -> str:
        return redact(text, self.settings.bind_password)

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.unbind()
            except LDAPException:
                log.debug("LDAP unbind of a broken connection failed")

    def _conn(self) -> Connection:
        """The bound connection, opened (and bound) on first use and after a failure."""
        if self._connection is not None and not self._connection.closed:
            return self._connection
        s = self.settings
        tls = None
        if s.use_ssl or s.start_tls:  # certificates verified, against ca_certs_file if given
            with self._ldap("TLS set-up"):
                tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=s.ca_certs_file)
        server = Server(
            s.host,
            port=s.port,
            use_ssl=s.use_ssl,
            tls=tls,
            get_info=NONE,
            connect_timeout=s.timeout,
        )
        password = s.bind_password.reveal() if s.bind_password else None
        connection = Connection(
            server,
            user=s.bind_dn,
            password=password,
            receive_timeout=max(1, math.ceil(s.timeout)),  # whole seconds (SO_RCVTIMEO)
            raise_exceptions=True,
            return_empty_attributes=False,
            auto_referrals=False,
        )
        try:
            with self._ldap("bind"):
                connection.open()
                if s.start_tls:
                    connection.start_tls()
                connection.bind()
        finally:
            connection.password = None  # its repr would show it
        self._connection = connection
        return connection

    def close(self) -> None:
        self._drop()

    def _bases(self) -> list[str]:
        """Where users live: base_dn, and the disabled_dn when entries move out of it."""
        s = self.settings
        extra = (
            s.disable_strategy == "move"
            and s.disabled_dn
            and not is_under(s.disabled_dn, s.base_dn)
        )
        return [s.base_dn, s.disabled_dn] if extra and s.disabled_dn else [s.base_dn]

    def _search(self, search_filter: str, page_size: int | None = None) -> Iterator[dict]:
        """Entries matching a filter below every base, page by page (paged-results control)."""
        for base in self._bases():
            with self._ldap("search"):
                pages = self._conn().extend.standard.paged_search(
                    base,
                    search_filter,
                    search_scope=SUBTREE,
                    attributes=self.mapping.read_attributes(),
                    paged_size=page_size or self.settings.page_size,
                    generator=True,
                )
                for entry in pages:
                    if entry.get("type") == "searchResEntry":
                        yield entry

    def _read(self, dn: str) -> dict:
        with self._ldap("read"):
            connection = self._conn()
            connection.search(
                dn, "(objectClass=*)", BASE, attributes=self.mapping.read_attributes()
            )
            return (connection.response or [{}])[0]

    def _entry(self, external_id: str) -> dict:
        """The entry with this entryUUID/objectGUID; not found is not retryable."""
        found = list(self._search(self.mapping.id_filter(external_id)))
        if not found:
            raise ConnectorError(f"LDAP entry {external_id} not found (noSuchObject)")
        return found[0]

    # -- operations ----------------------------------------------------------------------------

    def test_connection(self) -> dict:
        with self._ldap("test"):
            connection = self._conn()
            identity = connection.extend.standard.who_am_i()
        self._read(self.settings.base_dn)  # the base exists and we may read it
        return {
            "ok": True,
            "server": f"{self.settings.host}:{self.settings.port or ''}".rstrip(":"),
            "tls": self.settings.use_ssl or self.settings.start_tls,
            "bound_as": identity or "anonymous",
            "base_dn": self.settings.base_dn,
            "disable_strategy": self.settings.disable_strategy,
        }

    def find_account(self, user: dict) -> dict | None:
        return self.find_accounts([user])[0]

    def find_accounts(self, users: list[dict]) -> list[dict | None]:
        """One search (an OR of the matching values) per 50 users."""
        answers: list[dict | None] = []
        attribute = self.settings.matching_attribute.lower()
        for start in range(0, len(users), 50):
            values = [self.mapping.match_value(user) for user in users[start : start + 50]]
            found: dict[str, list[dict]] = {}
            for entry in self._search(self.mapping.match_filter(list(dict.fromkeys(values)))):
                raw = {k.lower(): v for k, v in entry["raw_attributes"].items()}
                for value in raw.get(attribute) or []:
                    found.setdefault(value.decode("utf-8", "replace").casefold(), []).append(entry)
            for value in values:
                entries = found.get(value.casefold(), [])
                if len(entries) > 1:
                    raise ConnectorError(
                        f"{len(entries)} LDAP entries match on {attribute!r}; not picking one"
                    )
                answers.append(self.mapping.account(entries[0]) if entries else None)
        return answers

    def create_account(self, user: dict, *, looked_up: bool = False) -> dict:
        values = self.mapping.values(user)  # mandatory attributes checked before any call
        existing = None if looked_up else self.find_account(user)
        if existing is not None:
            return {**existing, "linked": True}
        dn = self.mapping.dn_for(values)
        attributes = {name: value for name, value in values.items() if value is not None}
        try:
            with self._ldap("add"):
                self._conn().add(dn, self.settings.object_classes, attributes)
        except LdapResultError as err:
            existing = self.find_account(user) if err.result == ALREADY_EXISTS else None
            if existing is None:
                raise
            return {**existing, "linked": True}  # created meanwhile: link it
        return self.mapping.account(self._read(dn))

    def update_account(self, external_id: str, user: dict) -> dict:
        """Replace the mapped attributes; a new RDN value renames the entry (modrdn).
        The disabled state is left alone: an update never re-enables."""
        entry = self._entry(external_id)
        values = self.mapping.values(user)
        dn, rdn = entry["dn"], self.settings.rdn_attribute
        raw = {k.lower(): v for k, v in entry["raw_attributes"].items()}
        named = [v.decode("utf-8", "replace").casefold() for v in raw.get(rdn.lower()) or []]
        if str(values[rdn]).casefold() not in named:  # compared as the directory compares
            new_rdn = f"{rdn}={escape_rdn(str(values[rdn]))}"
            with self._ldap("rename"):
                self._conn().modify_dn(dn, new_rdn, delete_old_dn=True)
            dn = ",".join([new_rdn, *to_dn(dn)[1:]])
        changes: dict[str, list] = {}
        for name, value in values.items():
            now = [v.decode("utf-8", "replace") for v in raw.get(name.lower()) or []]
            if name == rdn or now == ([value] if value is not None else []):
                continue
            changes[name] = (
                [(MODIFY_REPLACE, [value])] if value is not None else [(MODIFY_DELETE, [])]
            )
        if changes:
            with self._ldap("modify"):
                self._conn().modify(dn, changes)
        return self.mapping.account(self._read(dn))

    def disable_account(self, external_id: str) -> dict:
        entry = self._entry(external_id)
        s, dn = self.settings, entry["dn"]
        account = self.mapping.account(entry)
        if not account["active"]:
            return account
        with self._ldap("disable"):
            connection = self._conn()
            if s.disable_strategy == "move" and s.disabled_dn:
                connection.modify_dn(dn, to_dn(dn)[0], new_superior=s.disabled_dn)
                dn = f"{to_dn(dn)[0]},{s.disabled_dn}"
            elif s.disable_strategy == "ad":
                uac = (entry["raw_attributes"].get("userAccountControl") or [b""])[0]
                value = account_disabled_uac(uac.decode() if uac else None)
                connection.modify(dn, {"userAccountControl": [(MODIFY_REPLACE, [str(value)])]})
            else:
                change = [(MODIFY_REPLACE, [s.disable_value])]
                connection.modify(dn, {s.disable_attribute: change})
        return self.mapping.account(self._read(dn))

    def delete_account(self, external_id: str) -> None:
        """Delete the entry when the app allows hard deletes, else disable it; gone is done."""
        if not self.settings.supports_hard_delete:
            self.disable_account(external_id)
            return
        found = list(self._search(self.mapping.id_filter(external_id)))
        if not found:
            log.info("LDAP entry %s was already deleted", external_id)
            return
        try:
            with self._ldap("delete"):
                self._conn().delete(found[0]["dn"])
        except LdapResultError as err:
            if err.result != NO_SUCH_OBJECT:
                raise
            log.info("LDAP entry %s was deleted meanwhile", external_id)

    def iter_accounts(self, page_size: int | None = None) -> Iterator[dict]:
        """Every account, streamed page by page with the paged-results control."""
        for entry in self._search(f"(&{self.mapping.class_filter()})", page_size):
            yield self.mapping.account(entry)

    def list_accounts(self) -> list[dict]:
        return list(self.iter_accounts())
