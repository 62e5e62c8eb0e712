"""How a directory user maps onto an LDAP entry, and an entry back onto an account: the LDAP
connector's settings, checked when the connector is built (no network), the filters and DNs
built from escaped values, and the ways an entry is disabled."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

from ldap3.utils.conv import escape_bytes, escape_filter_chars
from ldap3.utils.dn import escape_rdn, parse_dn

from .base import ConnectorError, MissingAttribute, Secret, check_setting

# LDAP attribute <- directory field; a list tries the fields in order (the first with a value
# wins) and is mapped back only when no single-field attribute gives that field.
DEFAULT_ATTRIBUTE_MAP: dict[str, str | list[str]] = {
    "uid": "username",
    "cn": ["display_name", "username"],
    "sn": ["last_name", "username"],
    "givenName": "first_name",
    "mail": "email",
    "displayName": "display_name",
}
DIRECTORY_FIELDS = (
    "username",
    "email",
    "first_name",
    "last_name",
    "display_name",
    "department",
    "title",
    "id",
)
ID_ATTRIBUTES = ("entryUUID", "objectGUID")  # OpenLDAP (RFC 4530), Active Directory
DISABLE_STRATEGIES = ("attribute", "move", "ad")
# OpenLDAP's ppolicy overlay: a pwdAccountLockedTime of 000001010000Z locks the account for good.
DEFAULT_DISABLE = ("pwdAccountLockedTime", "000001010000Z")
UAC_ACCOUNTDISABLE = 0x2  # Active Directory userAccountControl: ACCOUNTDISABLE
_ATTRIBUTE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,63}$")


def account_disabled_uac(value: int | str | None) -> int:
    """The userAccountControl value with ACCOUNTDISABLE set (512, a normal account, if none)."""
    return _uac(value) | UAC_ACCOUNTDISABLE


def uac_is_active(value: int | str | None) -> bool:
    return not _uac(value) & UAC_ACCOUNTDISABLE


def _uac(value: int | str | None) -> int:
    if value is None or value == "":
        return 512
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConnectorError(f"userAccountControl {str(value)[:20]!r} is not a number") from None


def _clean(value) -> str | None:
    if value is None:
        return None
    return str(value).strip() or None


def _text_setting(settings: dict, key: str) -> str:
    value = settings.get(key)
    if not isinstance(value, str) or not value.strip():
        check_setting(False, f"{key!r} is required")
        return ""
    return value.strip()


def _dn_setting(settings: dict, key: str, required: bool) -> str | None:
    if settings.get(key) is None and not required:
        return None
    value = _text_setting(settings, key)
    try:
        parse_dn(value)
    except Exception:  # ldap3 raises several kinds for a malformed DN
        check_setting(False, f"{key!r} is not a valid DN")
    return value


def _attribute_setting(settings: dict, key: str, default: str) -> str:
    value = settings.get(key) or default
    ok = isinstance(value, str) and bool(_ATTRIBUTE_RE.match(value))
    check_setting(ok, f"{key!r} must be an LDAP attribute name")
    return value


@dataclass
class LdapSettings:
    """The LDAP connector's settings, checked; the bind password is held as a Secret."""

    host: str
    port: int | None
    use_ssl: bool
    start_tls: bool
    bind_dn: str | None
    bind_password: Secret | None
    base_dn: str
    object_classes: list[str]
    rdn_attribute: str
    matching_attribute: str
    id_attribute: str
    attribute_map: dict[str, list[str]]
    disable_strategy: str
    disabled_dn: str | None
    disable_attribute: str
    disable_value: str
    supports_hard_delete: bool
    timeout: float
    page_size: int

    @classmethod
    def read(cls, settings: dict) -> LdapSettings:
        check_setting(isinstance(settings, dict), "must be a dict")
        parts = urlsplit(_text_setting(settings, "url"))
        try:
            port = parts.port
        except ValueError:
            port = -1
        ok = parts.scheme in ("ldap", "ldaps") and bool(parts.hostname) and port != -1
        check_setting(ok, "'url' must be an ldap:// or ldaps:// URL with a host")
        check_setting(not (parts.username or parts.password), "'url' must not embed credentials")
        check_setting(parts.path in ("", "/"), "'url' must not have a path; use 'base_dn'")
        start_tls = settings.get("start_tls", False)
        check_setting(isinstance(start_tls, bool), "'start_tls' must be a boolean")
        check_setting(not (start_tls and parts.scheme == "ldaps"), "'start_tls' needs ldap://")
        bind_dn = _dn_setting(settings, "bind_dn", required=False)
        password = settings.get("bind_password")
        ok = password is None or (isinstance(password, str) and bool(password))
        check_setting(ok, "'bind_password' must be a non-empty string")
        check_setting(bool(bind_dn) == bool(password), "'bind_dn' and 'bind_password' go together")
        classes = settings.get("user_object_classes") or ["inetOrgPerson"]
        ok = isinstance(classes, list) and all(
            isinstance(c, str) and _ATTRIBUTE_RE.match(c) for c in classes
        )
        check_setting(ok, "'user_object_classes' must be a list of object class names")
        strategy = settings.get("disable_strategy") or "attribute"
        ok = strategy in DISABLE_STRATEGIES
        check_setting(ok, f"'disable_strategy' must be one of {list(DISABLE_STRATEGIES)}")
        disabled_dn = _dn_setting(settings, "disabled_dn", required=strategy == "move")
        disable_value = settings.get("disable_value") or DEFAULT_DISABLE[1]
        ok = isinstance(disable_value, str) and bool(disable_value.strip())
        check_setting(ok, "'disable_value' must be a non-empty string")
        hard_delete = settings.get("supports_hard_delete", False)
        check_setting(isinstance(hard_delete, bool), "'supports_hard_delete' must be a boolean")
        id_attribute = settings.get("id_attribute") or "entryUUID"
        check_setting(
            id_attribute in ID_ATTRIBUTES, f"'id_attribute' must be one of {ID_ATTRIBUTES}"
        )
        attribute_map = _attribute_map(settings.get("attribute_map") or {})
        rdn = _attribute_setting(settings, "rdn_attribute", "uid")
        matching = _attribute_setting(settings, "matching_attribute", "uid")
        for key, name in (("rdn_attribute", rdn), ("matching_attribute", matching)):
            check_setting(name in attribute_map, f"'attribute_map' must map the {key} {name!r}")
        return cls(
            host=parts.hostname or "",
            port=parts.port,
            use_ssl=parts.scheme == "ldaps",
            start_tls=start_tls,
            bind_dn=bind_dn,
            bind_password=Secret(password) if password else None,
            base_dn=_dn_setting(settings, "base_dn", required=True) or "",
            object_classes=list(classes),
            rdn_attribute=rdn,
            matching_attribute=matching,
            id_attribute=id_attribute,
            attribute_map=attribute_map,
            disable_strategy=strategy,
            disabled_dn=disabled_dn,
            disable_attribute=_attribute_setting(settings, "disable_attribute", DEFAULT_DISABLE[0]),
            disable_value=disable_value.strip(),
            supports_hard_delete=hard_delete,
            timeout=_positive(settings, "timeout", 10.0),
            page_size=int(_positive(settings, "page_size", 500)),
        )


def _positive(settings: dict, key: str, default: float) -> float:
    value = settings.get(key, default)
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value > 0
    check_setting(ok, f"{key!r} must be a positive number")
    return float(value)


def _attribute_map(overrides) -> dict[str, list[str]]:
    """The default map with the overrides applied (None drops an attribute)."""
    check_setting(isinstance(overrides, dict), "'attribute_map' must be an object")
    merged = {**DEFAULT_ATTRIBUTE_MAP, **overrides}
    result: dict[str, list[str]] = {}
    for attribute, fields in merged.items():
        ok = isinstance(attribute, str) and bool(_ATTRIBUTE_RE.match(attribute))
        check_setting(ok, f"'attribute_map': {str(attribute)[:40]!r} is not an attribute name")
        if fields is None:
            continue
        listed = [fields] if isinstance(fields, str) else fields
        ok = (
            isinstance(listed, list) and bool(listed) and all(f in DIRECTORY_FIELDS for f in listed)
        )
        check_setting(
            ok, f"'attribute_map': {attribute} must name directory fields {list(DIRECTORY_FIELDS)}"
        )
        result[attribute] = list(listed)
    return result


class EntryMapping:
    """Values, filters and DNs for one application's settings; every value is escaped."""

    def __init__(self, settings: LdapSettings) -> None:
        self.s = settings

    def values(self, user: dict) -> dict[str, str | None]:
        """{LDAP attribute: value or None (no value)} after checking the mandatory ones."""
        if not isinstance(user, dict):
            raise ConnectorError("user must be a dict")
        values = {}
        for attribute, fields in self.s.attribute_map.items():
            values[attribute] = next((v for f in fields if (v := _clean(user.get(f)))), None)
        for attribute in dict.fromkeys((self.s.rdn_attribute, self.s.matching_attribute)):
            if values.get(attribute) is None:
                names = " or ".join(self.s.attribute_map[attribute])
                raise MissingAttribute(
                    attribute, f"missing mandatory attribute {attribute!r} (directory {names})"
                )
        return values

    def match_value(self, user: dict) -> str:
        return str(self.values(user)[self.s.matching_attribute])

    def dn_for(self, values: dict) -> str:
        rdn = escape_rdn(str(values[self.s.rdn_attribute]))
        return f"{self.s.rdn_attribute}={rdn},{self.s.base_dn}"

    def class_filter(self) -> str:
        return "".join(f"(objectClass={c})" for c in self.s.object_classes)

    def match_filter(self, values: list[str]) -> str:
        attribute = self.s.matching_attribute
        terms = "".join(f"({attribute}={escape_filter_chars(v)})" for v in values)
        return f"(&{self.class_filter()}{terms if len(values) == 1 else f'(|{terms})'})"

    def id_filter(self, external_id: str) -> str:
        if not isinstance(external_id, str) or not external_id:
            raise ConnectorError("external_id must be a non-empty string")
        try:
            parsed = uuid.UUID(external_id)
        except ValueError:
            raise ConnectorError(f"external_id {external_id[:60]!r} is not a UUID") from None
        if self.s.id_attribute == "objectGUID":  # stored little-endian: match its bytes
            value = escape_bytes(parsed.bytes_le)
        else:
            value = escape_filter_chars(str(parsed))
        return f"(&{self.class_filter()}({self.s.id_attribute}={value}))"

    def read_attributes(self) -> list[str]:
        names = [*self.s.attribute_map, self.s.id_attribute]
        if self.s.disable_strategy == "attribute":
            names.append(self.s.disable_attribute)
        elif self.s.disable_strategy == "ad":
            names.append("userAccountControl")
        return list(dict.fromkeys(names))

    def account(self, entry: dict, linked: bool = False) -> dict:
        """The account an entry (an ldap3 search answer) describes, as connectors report it."""
        raw = {k.lower(): v for k, v in (entry.get("raw_attributes") or {}).items()}
        text = {k: [_decode(v) for v in values] for k, values in raw.items()}
        raw_id = raw.get(self.s.id_attribute.lower()) or []
        if not raw_id:
            raise ConnectorError(f"LDAP entry has no {self.s.id_attribute}", retryable=False)
        if self.s.id_attribute == "objectGUID":
            external_id = str(uuid.UUID(bytes_le=bytes(raw_id[0])))
        else:
            external_id = text[self.s.id_attribute.lower()][0]
        attributes: dict[str, str | None] = {}
        for single in (True, False):
            for attribute, fields in self.s.attribute_map.items():
                if (len(fields) == 1) == single and fields[0] not in attributes:
                    values = text.get(attribute.lower()) or []
                    attributes[fields[0]] = values[0] if values else None
        first = text.get(self.s.matching_attribute.lower()) or []
        return {
            "external_id": external_id,
            "dn": entry.get("dn"),
            "user_name": first[0] if first else None,
            "active": self.active(entry["dn"], text),
            "linked": linked,
            "attributes": attributes,
        }

    def active(self, dn: str, text: dict[str, list[str]]) -> bool:
        if self.s.disable_strategy == "move":
            return not is_under(dn, self.s.disabled_dn or "")
        if self.s.disable_strategy == "ad":
            uac = text.get("useraccountcontrol") or []
            return uac_is_active(uac[0] if uac else None)
        values = text.get(self.s.disable_attribute.lower()) or []
        return self.s.disable_value.casefold() not in (v.casefold() for v in values)


def _decode(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes | bytearray) else str(value)


def is_under(dn: str, parent: str) -> bool:
    """Whether `dn` lies below `parent` (compared as parsed, case-insensitive RDNs)."""

    def parts(name: str) -> list[tuple[str, str]]:
        return [(a.lower(), v.lower()) for a, v, _ in parse_dn(name)]

    child, ancestor = parts(dn), parts(parent)
    return len(child) > len(ancestor) and child[-len(ancestor) :] == ancestor
