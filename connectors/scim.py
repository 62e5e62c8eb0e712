"""SCIM 2.0 connector (RFC 7643 / RFC 7644) over ``requests``.

Security: the bearer token is kept in a :class:`~connectors.base.Secret` and only
revealed by the ``requests`` auth hook that sets the header. It is never put in an
exception message, a repr or a log line, and text coming back from the target is
scrubbed of it. Redirects are not followed, so the token never goes to another host.
"""

from __future__ import annotations

import json
import logging
from urllib.parse import quote, urlsplit

import requests

from .base import (
    Connector,
    ConnectorConfigError,
    ConnectorError,
    MissingAttribute,
    Secret,
    parse_retry_after,
    redact,
    retryable_status,
)

log = logging.getLogger(__name__)

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SCIM_JSON = "application/scim+json"

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
# matching attribute -> (filter attribute path, compared case-insensitively?)
MATCHING = {"userName": ("userName", True), "externalId": ("externalId", False),
            "emails": ("emails.value", True)}  # fmt: skip
READ_ONLY = ("meta", "groups")  # dropped from a resource before PUTting it back


class _BearerAuth(requests.auth.AuthBase):
    """Sets the Authorization header on each request; its repr never shows the token."""

    def __init__(self, token: Secret) -> None:
        self._token = token

    def __call__(self, request):
        request.headers["Authorization"] = f"Bearer {self._token.reveal()}"
        return request

    def __repr__(self) -> str:
        return "<BearerAuth token=***>"


def _clean(value):
    """A directory value ready for SCIM, or None when empty/blank."""
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value).strip() or None


def _set_path(resource: dict, path: str, value) -> None:
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


def _setting(ok: bool, message: str) -> None:
    if not ok:
        raise ConnectorConfigError(f"SCIM settings: {message}")


def _positive(settings: dict, key: str, default: float) -> float:
    value = settings.get(key, default)
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value > 0
    _setting(ok, f"{key!r} must be a positive number")
    return float(value)


class ScimConnector(Connector):
    """Provision users in a SCIM 2.0 service provider (see the module docstring)."""

    def __init__(self, settings: dict, session: requests.Session | None = None) -> None:
        _setting(isinstance(settings, dict), "must be a dict")
        base_url = settings.get("base_url")
        _setting(isinstance(base_url, str) and bool(base_url.strip()), "'base_url' is required")
        parts = urlsplit(base_url.strip())
        _setting(parts.scheme in ("http", "https") and bool(parts.hostname),
                 "'base_url' must be an http(s) URL")  # fmt: skip
        _setting(not (parts.username or parts.password),
                 "'base_url' must not embed credentials; use 'token'")  # fmt: skip
        self.base_url = base_url.strip().rstrip("/")
        token = settings.get("token")
        _setting(token is None or (isinstance(token, str) and bool(token.strip())),
                 "'token' must be a non-empty string")  # fmt: skip
        self._token = Secret(token.strip()) if token else None
        self.matching_attribute = settings.get("matching_attribute") or "userName"
        _setting(self.matching_attribute in MATCHING,
                 f"'matching_attribute' must be one of {sorted(MATCHING)}")  # fmt: skip
        self.supports_hard_delete = settings.get("supports_hard_delete", False)
        _setting(isinstance(self.supports_hard_delete, bool),
                 "'supports_hard_delete' must be a boolean")  # fmt: skip
        self.timeout = _positive(settings, "timeout", 10.0)
        self.page_size = int(_positive(settings, "page_size", 100))
        self.attribute_map = self._merge_map(settings.get("attribute_map") or {})
        self._patch_supported: bool | None = None  # unknown until SPC or a PATCH tells
        self._session = session or requests.Session()
        self._session.headers.update({"Content-Type": SCIM_JSON, "Accept": SCIM_JSON})
        if self._token:
            self._session.auth = _BearerAuth(self._token)

    def _merge_map(self, overrides: dict) -> dict:
        """The default mapping with overrides applied (a None field drops the attribute)."""
        _setting(isinstance(overrides, dict) and all(
            isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in overrides.items()
        ), "'attribute_map' must map SCIM attribute paths to directory field names")  # fmt: skip
        merged = dict(DEFAULT_ATTRIBUTE_MAP)
        for path, field in overrides.items():
            merged["emails" if path == "emails.value" else path] = field
        merged = {path: field for path, field in merged.items() if field}
        for required in ("userName", self.matching_attribute):
            _setting(required in merged, f"'attribute_map' must map {required!r}")
        return merged

    def __repr__(self) -> str:
        return (
            f"ScimConnector(base_url={self.base_url!r}, "
            f"matching_attribute={self.matching_attribute!r}, "
            f"supports_hard_delete={self.supports_hard_delete}, "
            f"token={'***' if self._token else None})"
        )

    def close(self) -> None:
        self._session.close()

    # -- mapping ---------------------------------------------------------------------------

    def _require(self, user: dict, paths) -> None:
        """Raise MissingAttribute for the first mandatory attribute without a value."""
        if not isinstance(user, dict):
            raise ConnectorError("user must be a dict", retryable=False)
        for path in dict.fromkeys(paths):
            field = self.attribute_map[path]
            if _clean(user.get(field)) is None:
                message = f"missing mandatory attribute {path!r} (directory field {field!r})"
                raise MissingAttribute(path, message)

    def _values(self, user: dict, *, create: bool) -> list[tuple[str, object]]:
        """(SCIM path, value) pairs for a user, after checking the mandatory attributes."""
        self._require(user, ("userName", self.matching_attribute))
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

    def _account(self, resource: dict, linked: bool = False) -> dict:
        if not resource.get("id"):
            raise ConnectorError("SCIM response has no resource 'id'", retryable=False)
        emails = [e for e in resource.get("emails") or [] if isinstance(e, dict)]
        primary = next((e for e in emails if e.get("primary")), emails[0] if emails else {})
        return {
            "external_id": resource["id"],
            "user_name": resource.get("userName"),
            "active": resource.get("active") is not False,  # absent means active
            "linked": linked,
            "email": primary.get("value"),
            "display_name": resource.get("displayName"),
            "scim_external_id": resource.get("externalId"),
            "resource": resource,
        }

    # -- HTTP ------------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs) -> requests.Response:
        what = f"SCIM {method} {path}"
        try:
            response = self._session.request(
                method, self.base_url + path, timeout=self.timeout, allow_redirects=False, **kwargs
            )
        except requests.exceptions.SSLError as exc:
            raise ConnectorError(redact(f"{what}: TLS error: {exc}", self._token)) from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            kind = "timed out" if isinstance(exc, requests.Timeout) else "connection failed"
            message = redact(f"{what}: {kind} ({type(exc).__name__}: {exc})", self._token)
            raise ConnectorError(message, retryable=True) from None
        except requests.RequestException as exc:
            message = redact(f"{what}: request failed ({type(exc).__name__}: {exc})", self._token)
            raise ConnectorError(message) from None
        log.debug("%s -> %s", what, response.status_code)
        if response.status_code < 300:
            return response
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = None
        body = body if isinstance(body, dict) else {}
        message = f"{what} failed: HTTP {status} {response.reason or ''}".rstrip()
        if body.get("scimType"):
            message += f" [scimType={body['scimType']}]"
        if body.get("detail"):
            message += f": {str(body['detail'])[:500]}"
        if status < 400:
            message += " (redirects are not followed: check base_url)"
        retry_after = None
        if status in (429, 503):
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
        raise ConnectorError(redact(message, self._token), retryable=retryable_status(status),
                             status=status, retry_after=retry_after)  # fmt: skip

    def _get_json(self, method: str, path: str, **kwargs) -> dict:
        response = self._request(method, path, **kwargs)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ConnectorError(f"SCIM {method} {path}: answer is not a JSON object")
        return body

    def _user_path(self, external_id: str) -> str:
        if not isinstance(external_id, str) or not external_id:
            raise ConnectorError("external_id must be a non-empty string")
        return "/Users/" + quote(external_id, safe="")

    # -- operations ------------------------------------------------------------------------

    def test_connection(self) -> dict:
        spc = self._get_json("GET", "/ServiceProviderConfig")
        # RFC 7644 lets /ServiceProviderConfig answer without authentication: make one
        # authenticated call too, to prove the token is accepted.
        users = self._get_json("GET", "/Users", params={"startIndex": 1, "count": 1})

        def supported(feature: str) -> bool:
            return bool((spc.get(feature) or {}).get("supported"))

        self._patch_supported = supported("patch")
        return {
            "ok": True,
            **{feature: supported(feature) for feature in ("patch", "filter", "bulk", "etag")},
            "max_results": (spc.get("filter") or {}).get("maxResults"),
            "auth_schemes": [s.get("type") for s in spc.get("authenticationSchemes") or []],
            "total_users": users.get("totalResults"),
        }

    def find_account(self, user: dict) -> dict | None:
        self._require(user, (self.matching_attribute,))
        value = str(_clean(user[self.attribute_map[self.matching_attribute]]))
        attribute, ignore_case = MATCHING[self.matching_attribute]
        # A filter's comparison value is a JSON string (RFC 7644 §3.4.2.2): json.dumps
        # escapes quotes, backslashes and control characters.
        scim_filter = f"{attribute} eq {json.dumps(value, ensure_ascii=False)}"
        params = {"filter": scim_filter, "startIndex": 1, "count": 10}
        resources = self._get_json("GET", "/Users", params=params).get("Resources") or []

        def same(other) -> bool:
            other = str(other or "")
            return other.casefold() == value.casefold() if ignore_case else other == value

        def matches(resource) -> bool:
            if self.matching_attribute == "emails":
                return any(same(e.get("value")) for e in resource.get("emails") or [] if e)
            return same(resource.get(self.matching_attribute))

        # Check the answer ourselves: a target that ignores the filter must not make us
        # link somebody else's account.
        found = [r for r in resources if isinstance(r, dict) and matches(r)]
        if len(found) > 1:
            raise ConnectorError(f"{len(found)} SCIM accounts match on "
                                 f"{self.matching_attribute!r}; refusing to pick one")  # fmt: skip
        return self._account(found[0]) if found else None

    def create_account(self, user: dict) -> dict:
        resource = {"schemas": [USER_SCHEMA]}
        for path, value in self._values(user, create=True):  # checked before any HTTP call
            _set_path(resource, path, value)
        existing = self.find_account(user)
        if existing is None:
            try:
                response = self._request("POST", "/Users", json=resource)
            except ConnectorError as exc:
                if exc.status != 409:
                    raise
                existing = self.find_account(user)  # created concurrently: link it
                if existing is None:
                    message = (f"{exc.message} (conflicting account does not match on "
                               f"{self.matching_attribute!r}: not linking it)")  # fmt: skip
                    raise ConnectorError(message, status=409) from None
            else:
                if response.content:
                    return self._account(response.json())
                existing = self.find_account(user)  # 201 without a body
                if existing is None:
                    raise ConnectorError("SCIM created the account but cannot find it")
                return existing
        return {**existing, "linked": True}

    def update_account(self, external_id: str, user: dict) -> dict:
        # "active" is only written when mapped explicitly: an update must not re-enable.
        return self._modify(external_id, self._values(user, create=False))

    def disable_account(self, external_id: str) -> dict:
        return self._modify(external_id, [("active", False)])

    def _modify(self, external_id: str, values: list[tuple[str, object]]) -> dict:
        """Replace some attributes with PATCH, or GET + PUT when the target has no PATCH."""
        path = self._user_path(external_id)
        if self._patch_supported is not False:
            operations = [{"op": "replace", "path": p, "value": v} for p, v in values]
            try:
                response = self._request(
                    "PATCH", path, json={"schemas": [PATCH_SCHEMA], "Operations": operations}
                )
            except ConnectorError as exc:
                if exc.status not in (405, 501):
                    raise
                log.info("SCIM target has no PATCH (HTTP %s): using PUT", exc.status)
                self._patch_supported = False
            else:
                self._patch_supported = True
                return self._account(response.json() if response.content else
                                     self._get_json("GET", path))  # fmt: skip
        resource = self._get_json("GET", path)
        for attribute in READ_ONLY:
            resource.pop(attribute, None)
        for attribute, value in values:
            _set_path(resource, attribute, value)
        response = self._request("PUT", path, json=resource)
        return self._account(response.json() if response.content else self._get_json("GET", path))

    def delete_account(self, external_id: str) -> None:
        if not self.supports_hard_delete:
            self.disable_account(external_id)
            return
        try:
            self._request("DELETE", self._user_path(external_id))
        except ConnectorError as exc:
            if exc.status != 404:
                raise
            log.info("SCIM account was already deleted")

    def list_accounts(self) -> list[dict]:
        accounts: dict[str, dict] = {}
        start = 1
        while True:
            params = {"startIndex": start, "count": self.page_size}
            body = self._get_json("GET", "/Users", params=params)
            resources = [r for r in body.get("Resources") or [] if isinstance(r, dict)]
            new = [r for r in resources if r.get("id") not in accounts]
            if resources and not new:  # a target ignoring startIndex would loop forever
                raise ConnectorError("SCIM pagination is not progressing (startIndex ignored?)")
            accounts.update((r["id"], self._account(r)) for r in new)
            start += len(resources)
            total = body.get("totalResults")
            more = start <= total if isinstance(total, int) else len(resources) >= self.page_size
            if not resources or not more:
                return list(accounts.values())
