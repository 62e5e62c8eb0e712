"""How a directory user maps onto an LDAP entry, and an entry back onto an account: the values,
the filters and DNs built from escaped values, and the ways an entry counts as disabled."""

from __future__ import annotations

import uuid

from ldap3.utils.conv import escape_bytes, escape_filter_chars
from ldap3.utils.dn import escape_rdn, parse_dn

from .base import ConnectorError, MissingAttribute
from .ldap_settings import LdapSettings

UAC_ACCOUNTDISABLE = 0x2  # Active Directory userAccountControl: ACCOUNTDISABLE


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
                    value = values[0] if values else None
                    # sn filled from the username (no last name): the last name is unknown,
                    # so a sync does not see drift where the directory has none.
                    fallback = value is not None and any(
                        attributes.get(field) == value for field in fields[1:]
                    )
                    attributes[fields[0]] = None if fallback else value
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
