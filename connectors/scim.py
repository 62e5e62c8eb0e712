"""SCIM 2.0 connector (RFC 7643 / RFC 7644) over ``requests``.

HTTP, the bearer token and error classification come from
:class:`~connectors.base.HttpConnector`: the token is never put in an exception
message, a repr or a log line, and redirects are not followed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from urllib.parse import quote

import requests

from .base import ConnectorError, HttpConnector, MissingAttribute, check_setting
from .scim_mapping import USER_SCHEMA, UserMapping, account_from, set_path

log = logging.getLogger(__name__)

PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SCIM_JSON = "application/scim+json"

# matching attribute -> (filter attribute path, compared case-insensitively?)
MATCHING = {
    "userName": ("userName", True),
    "externalId": ("externalId", False),
    "emails": ("emails.value", True),
}
READ_ONLY = ("meta", "groups")  # dropped from a resource before PUTting it back


class ScimConnector(HttpConnector):
    """Provision users in a SCIM 2.0 service provider (see the module docstring)."""

    label = "SCIM"

    def __init__(self, settings: dict, session: requests.Session | None = None) -> None:
        headers = {"Content-Type": SCIM_JSON, "Accept": SCIM_JSON}
        super().__init__(settings, session, headers)
        self.matching_attribute = settings.get("matching_attribute") or "userName"
        ok = self.matching_attribute in MATCHING
        check_setting(ok, f"'matching_attribute' must be one of {sorted(MATCHING)}")
        self.supports_hard_delete = settings.get("supports_hard_delete", False)
        ok = isinstance(self.supports_hard_delete, bool)
        check_setting(ok, "'supports_hard_delete' must be a boolean")
        self.page_size = int(self.positive_setting(settings, "page_size", 100))
        self.mapping = UserMapping(settings.get("attribute_map") or {}, self.matching_attribute)
        self._patch_supported: bool | None = None  # unknown until SPC or a PATCH tells
        self.matching_field = self.mapping.attribute_map[self.matching_attribute]
        required = settings.get("required_attributes") or []
        ok = isinstance(required, list) and all(isinstance(f, str) and f for f in required)
        check_setting(ok, "'required_attributes' must be a list of directory fields")
        self.required_attributes = tuple(required)

    def __repr__(self) -> str:
        return (
            f"ScimConnector(base_url={self.base_url!r}, "
            f"matching_attribute={self.matching_attribute!r}, "
            f"supports_hard_delete={self.supports_hard_delete}, token={self._token!r})"
        )

    def _user_path(self, external_id: str) -> str:
        if not isinstance(external_id, str) or not external_id:
            raise ConnectorError("external_id must be a non-empty string")
        return "/Users/" + quote(external_id, safe="")

    # -- operations ------------------------------------------------------------------------

    def test_connection(self) -> dict:
        spc = self.request_json("GET", "/ServiceProviderConfig")
        # RFC 7644 lets /ServiceProviderConfig answer without authentication: make one
        # authenticated call too, to prove the token is accepted.
        users = self.request_json("GET", "/Users", params={"startIndex": 1, "count": 1})

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
        value = self.mapping.match_value(user)
        attribute, _ = MATCHING[self.matching_attribute]
        # A filter's comparison value is a JSON string (RFC 7644 §3.4.2.2): json.dumps
        # escapes quotes, backslashes and control characters.
        scim_filter = f"{attribute} eq {json.dumps(value, ensure_ascii=False)}"
        params = {"filter": scim_filter, "startIndex": 1, "count": 10}
        resources = self.request_json("GET", "/Users", params=params).get("Resources") or []
        return self._pick(resources, value)

    def _pick(self, resources: list, value: str) -> dict | None:
        """The one resource matching `value`, checked here: a target that ignores the filter
        must not make us link somebody else's account."""
        _, ignore_case = MATCHING[self.matching_attribute]

        def same(other) -> bool:
            other = str(other or "")
            return other.casefold() == value.casefold() if ignore_case else other == value

        def matches(resource) -> bool:
            if self.matching_attribute == "emails":
                emails = resource.get("emails") or []
                return any(isinstance(e, dict) and same(e.get("value")) for e in emails)
            return same(resource.get(self.matching_attribute))

        found = [r for r in resources if isinstance(r, dict) and matches(r)]
        if len(found) > 1:
            name = self.matching_attribute
            raise ConnectorError(f"{len(found)} accounts match on {name!r}; not picking one")
        return account_from(found[0]) if found else None

    def find_accounts(self, users: list[dict]) -> list[dict | None]:
        """One filtered query (``a eq "x" or a eq "y" ...``) per 20 users; a target that
        truncates the answer or refuses the filter is asked one user at a time."""
        attribute, _ = MATCHING[self.matching_attribute]
        answers: list[dict | None] = []
        for start in range(0, len(users), 20):
            chunk = users[start : start + 20]
            values = [self.mapping.match_value(user) for user in chunk]
            scim_filter = " or ".join(
                f"{attribute} eq {json.dumps(v, ensure_ascii=False)}" for v in values
            )
            params = {"filter": scim_filter, "startIndex": 1, "count": 2 * len(chunk)}
            try:
                body = self.request_json("GET", "/Users", params=params)
            except ConnectorError as exc:
                if exc.status != 400:
                    raise
                answers += [self.find_account(user) for user in chunk]
                continue
            resources = body.get("Resources") or []
            if not isinstance(body.get("totalResults"), int) or body["totalResults"] > len(
                resources
            ):
                answers += [self.find_account(user) for user in chunk]
                continue
            answers += [self._pick(resources, value) for value in values]
        return answers

    def create_account(self, user: dict, *, looked_up: bool = False) -> dict:
        resource = {"schemas": [USER_SCHEMA]}
        # The mandatory attributes are checked before any HTTP call.
        for field in self.required_attributes:
            if not str(user.get(field) or "").strip():
                raise MissingAttribute(field, f"missing mandatory attribute {field!r}")
        for path, value in self.mapping.values(user, create=True):
            set_path(resource, path, value)
        existing = None if looked_up else self.find_account(user)
        if existing is None:
            try:
                response = self.request("POST", "/Users", json=resource)
            except ConnectorError as exc:
                if exc.status != 409:
                    raise
                existing = self.find_account(user)  # created concurrently: link it
                if existing is None:
                    attribute = self.matching_attribute
                    message = f"{exc.message} (none matches on {attribute!r}: not linking)"
                    raise ConnectorError(message, status=409) from None
            else:
                body = self.json_object(response)
                created = body or self.find_account(user)  # 201 without a body: look it up
                if created is None:
                    raise ConnectorError("SCIM created the account but cannot find it")
                return account_from(body) if body else created
        return {**existing, "linked": True}

    def update_account(self, external_id: str, user: dict) -> dict:
        # "active" is only written when mapped explicitly: an update must not re-enable.
        return self._modify(external_id, self.mapping.values(user, create=False))

    def disable_account(self, external_id: str) -> dict:
        return self._modify(external_id, [("active", False)])

    def enable_account(self, external_id: str) -> dict:
        return self._modify(external_id, [("active", True)])

    def _modify(self, external_id: str, values: list[tuple[str, object]]) -> dict:
        """Replace some attributes with PATCH, or GET + PUT when the target has no PATCH."""
        path = self._user_path(external_id)
        if self._patch_supported is not False:
            operations = [{"op": "replace", "path": p, "value": v} for p, v in values]
            try:
                response = self.request(
                    "PATCH", path, json={"schemas": [PATCH_SCHEMA], "Operations": operations}
                )
            except ConnectorError as exc:
                if exc.status not in (405, 501):
                    raise
                log.info("SCIM target has no PATCH (HTTP %s): using PUT", exc.status)
                self._patch_supported = False
            else:
                self._patch_supported = True
                return self._written(response, path)
        resource = self.request_json("GET", path)
        for attribute in READ_ONLY:
            resource.pop(attribute, None)
        for attribute, value in values:
            set_path(resource, attribute, value)
        response = self.request("PUT", path, json=resource)
        return self._written(response, path)

    def _written(self, response, path: str) -> dict:
        """The account a PATCH/PUT answered with, or read back (204 No Content)."""
        return account_from(self.json_object(response) or self.request_json("GET", path))

    def delete_account(self, external_id: str) -> None:
        if not self.supports_hard_delete:
            self.disable_account(external_id)
            return
        try:
            self.request("DELETE", self._user_path(external_id))
        except ConnectorError as exc:
            if exc.status != 404:
                raise
            log.info("SCIM account was already deleted")

    def list_accounts(self) -> list[dict]:
        accounts: dict[str, dict] = {}
        for account in self.iter_accounts():
            accounts.setdefault(account["external_id"], account)
        return list(accounts.values())

    def iter_accounts(self, page_size: int | None = None) -> Iterator[dict]:
        """Every account, read page by page with startIndex/count (RFC 7644 §3.4.2.4)."""
        count = page_size or self.page_size
        start, previous_ids = 1, None
        while True:
            params = {"startIndex": start, "count": count}
            body = self.request_json("GET", "/Users", params=params)
            resources = [r for r in body.get("Resources") or [] if isinstance(r, dict)]
            ids = [r.get("id") for r in resources]
            if resources and ids == previous_ids:  # a target ignoring startIndex loops forever
                raise ConnectorError("SCIM pagination is not progressing (startIndex ignored?)")
            previous_ids = ids
            for resource in resources:
                account = account_from(resource)
                account["attributes"] = self.mapping.directory_fields(resource)
                yield account
            start += len(resources)
            total = body.get("totalResults")
            more = start <= total if isinstance(total, int) else len(resources) >= count
            if not resources or not more:
                return
