"""How a directory user maps onto a SCIM User resource (RFC 7643), and a resource back onto an
account: the attribute map an application configures, the mandatory attributes, the paths."""

from __future__ import annotations

from .base import ConnectorError, MissingAttribute, check_setting

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"

# SCIM attribute path <- directory user field ("active" is the constant True on create).
# Paths may be dotted ("name.givenName") or extension URNs ("urn:...:User:department").
DEFAULT_ATTRIBUTE_MAP = {
    "userName": "username",
    "name.givenName": "first_name",
    "name.familyName": "last_name",
    "displayName": "display_name",
    "emails": "email",  # becomes [{"value": ..., "type": "work", "primary": True}]
    "externalId": "id",
}


def _clean(value):
    """A directory value ready for SCIM, or None when empty/blank."""
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value).strip() or None


def set_path(resource: dict, path: str, value) -> None:
    """Set a dotted, possibly extension-URN-prefixed, attribute path in a resource."""
    target, attribute = resource, path
    if path.startswith("urn:"):
        schema, _, attribute = path.rpartition(":")
        schemas = resource.setdefault("schemas", [USER_SCHEMA])
        if schema not in schemas:
            schemas.append(schema)
        target = resource.setdefault(schema, {})
    *parents, leaf = attribute.split(".")
    for parent in parents:
        target = target.setdefault(parent, {})
    target[leaf] = value


class UserMapping:
    """Which directory field fills each SCIM attribute path, for one connected application."""

    def __init__(self, overrides: dict, matching_attribute: str) -> None:
        self.matching_attribute = matching_attribute
        self.attribute_map = self._merge_map(overrides)

    def _merge_map(self, overrides: dict) -> dict:
        """The default mapping with overrides applied (a None field drops the attribute)."""
        ok = isinstance(overrides, dict) and all(
            isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in overrides.items()
        )
        check_setting(ok, "'attribute_map' must map SCIM attribute paths to directory fields")
        merged = dict(DEFAULT_ATTRIBUTE_MAP)
        for path, field in overrides.items():
            merged["emails" if path == "emails.value" else path] = field
        merged = {path: field for path, field in merged.items() if field}
        for required in ("userName", self.matching_attribute):
            check_setting(required in merged, f"'attribute_map' must map {required!r}")
        return merged

    def require(self, user: dict, paths) -> None:
        """Raise MissingAttribute for the first mandatory attribute without a value."""
        if not isinstance(user, dict):
            raise ConnectorError("user must be a dict", retryable=False)
        for path in dict.fromkeys(paths):
            field = self.attribute_map[path]
            if _clean(user.get(field)) is None:
                message = f"missing mandatory attribute {path!r} (directory field {field!r})"
                raise MissingAttribute(path, message)

    def values(self, user: dict, *, create: bool) -> list[tuple[str, object]]:
        """(SCIM path, value) pairs for a user, after checking the mandatory attributes."""
        self.require(user, ("userName", self.matching_attribute))
        values = []
        for path, field in self.attribute_map.items():
            value = _clean(user.get(field))
            if value is not None and path == "emails":
                value = [{"value": str(value), "type": "work", "primary": True}]
            if value is not None:
                values.append((path, value))
        if create and "active" not in self.attribute_map:
            values.append(("active", True))
        return values

    def directory_fields(self, resource: dict) -> dict:
        """The resource seen as directory fields, through the attribute map read backwards."""
        fields = {}
        for path, field in self.attribute_map.items():
            value = get_path(resource, path)
            if path == "emails":
                value = primary_email(resource)
            if isinstance(value, str | bool | int | float) or value is None:
                fields[field] = value
        return fields

    def match_value(self, user: dict) -> str:
        """The user's value of the matching attribute, which finds their account."""
        self.require(user, (self.matching_attribute,))
        return str(_clean(user[self.attribute_map[self.matching_attribute]]))


def get_path(resource: dict, path: str):
    """The value at a dotted, possibly extension-URN-prefixed, attribute path (or None)."""
    target: object = resource
    attribute = path
    if path.startswith("urn:"):
        schema, _, attribute = path.rpartition(":")
        target = resource.get(schema) or {}
    for part in attribute.split("."):
        if not isinstance(target, dict):
            return None
        target = target.get(part)
    return target


def primary_email(resource: dict) -> str | None:
    emails = [e for e in resource.get("emails") or [] if isinstance(e, dict)]
    primary = next((e for e in emails if e.get("primary")), emails[0] if emails else {})
    return primary.get("value")


def account_from(resource: dict, linked: bool = False) -> dict:
    """The account a SCIM User resource describes, as connectors report accounts."""
    if not resource.get("id"):
        raise ConnectorError("SCIM response has no resource 'id'", retryable=False)
    return {
        "external_id": resource["id"],
        "user_name": resource.get("userName"),
        "active": resource.get("active") is not False,  # absent means active
        "linked": linked,
        "email": primary_email(resource),
        "display_name": resource.get("displayName"),
        "scim_external_id": resource.get("externalId"),
        "resource": resource,
    }
