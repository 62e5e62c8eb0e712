"""The LDAP connector's settings, checked when the connector is built (no network): a bad URL,
DN or attribute name is refused when an application is configured, not at provisioning time."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from ldap3.utils.dn import parse_dn

from .base import Secret, check_setting

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
_ATTRIBUTE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,63}$")


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
    ca_certs_file: str | None
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
        ca_file = settings.get("ca_certs_file")
        ok = ca_file is None or (isinstance(ca_file, str) and bool(ca_file.strip()))
        check_setting(ok, "'ca_certs_file' must be the path of a PEM file")
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
            ca_certs_file=ca_file.strip() if ca_file else None,
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
