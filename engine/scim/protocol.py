"""What the SCIM server announces and how it reads requests: scim2-server's protocol core with
accessflow's limits and the request shapes Entra ID and Okta send."""

import json
import re
from typing import Any

from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Context,
    EnterpriseUser,
    ETag,
    Filter,
    Group,
    InvalidFilterException,
    InvalidSyntaxException,
    Patch,
    PatchOperation,
    ResourceType,
    ScimProvider,
    ServiceProviderConfig,
    Sort,
    User,
)
from scim2_server.service import ScimService

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
MAX_BODY_BYTES = 1024 * 1024
MAX_RESULTS = 200
MAX_FILTER_CHARS = 1000
MAX_FILTER_DEPTH = 12  # parentheses and brackets nested in one filter

UserResource = User[EnterpriseUser]

CONFIG = ServiceProviderConfig(
    patch=Patch(supported=True),
    bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
    filter=Filter(supported=True, max_results=MAX_RESULTS),
    change_password=ChangePassword(supported=False),
    sort=Sort(supported=True),
    etag=ETag(supported=True),
    authentication_schemes=[
        AuthenticationScheme(
            type=AuthenticationScheme.Type.oauthbearertoken,
            name="OAuth Bearer Token",
            description="A token from `accessflow scim-token NAME`",
            primary=True,
        )
    ],
)

PROVIDER = ScimProvider(
    models=[User, EnterpriseUser, Group],
    resource_types=[ResourceType.from_resource(UserResource), ResourceType.from_resource(Group)],
    config=CONFIG,
)

_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')


def check_filter_bounds(text: str) -> None:
    """Refuse a filter too long or nested too deep before it reaches the parser."""
    if len(text) > MAX_FILTER_CHARS:
        raise InvalidFilterException(detail=f"the filter is longer than {MAX_FILTER_CHARS} chars")
    depth = deepest = 0
    for char in _QUOTED.sub('""', text):
        if char in "([":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]":
            depth -= 1
    if deepest > MAX_FILTER_DEPTH:
        raise InvalidFilterException(detail=f"the filter nests deeper than {MAX_FILTER_DEPTH}")


def _manager(value: Any) -> Any:
    """A manager as the enterprise schema wants it, from the bare id Entra ID sends or the
    {"value"} both Entra ID and Okta send without the `$ref` the schema requires."""
    if isinstance(value, str) and value:
        value = {"value": value}
    if isinstance(value, dict) and value.get("value") and not value.get("$ref"):
        value = {**value, "$ref": f"Users/{value['value']}"}
    return value


def _idp_resource(data: Any) -> Any:
    """A User body (POST, PUT, a path-less PATCH value) with its manager made standard."""
    if isinstance(data, dict):
        if isinstance(data.get(ENTERPRISE), dict) and "manager" in data[ENTERPRISE]:
            data[ENTERPRISE] = {
                **data[ENTERPRISE],
                "manager": _manager(data[ENTERPRISE]["manager"]),
            }
        if f"{ENTERPRISE}:manager" in data:
            data[f"{ENTERPRISE}:manager"] = _manager(data[f"{ENTERPRISE}:manager"])
    return data


def _idp_operation(operation: Any) -> Any:
    """One PATCH operation as the RFC writes it, from what Entra ID and Okta send: an op in any
    case ("Replace"), a manager given as its bare id."""
    if not isinstance(operation, dict):
        return operation
    fixed = dict(operation)
    for key in list(fixed):
        if key.lower() == "op" and isinstance(fixed[key], str):
            fixed[key] = fixed[key].lower()
    path = fixed.get("path")
    if isinstance(path, str) and path.lower().endswith(":manager"):
        fixed["value"] = _manager(fixed.get("value"))
    elif path is None:
        fixed["value"] = _idp_resource(fixed.get("value"))
    return fixed


def _rewritten(body: bytes, change) -> bytes:
    try:
        data = json.loads(body)
    except ValueError as err:
        raise InvalidSyntaxException(detail=f"the body is not JSON: {err}") from err
    except RecursionError as err:
        raise InvalidSyntaxException(detail="the body nests too deep") from err
    return json.dumps(change(data)).encode()


def _operations(data: Any) -> Any:
    if isinstance(data, dict):
        for key in list(data):
            if key.lower() == "operations" and isinstance(data[key], list):
                data[key] = [_idp_operation(op) for op in data[key]]
    return data


# Entra ID sets a typed value (`emails[type eq "work"].value`) even when no value of that type
# exists yet; RFC 7644 would answer noTarget, Entra expects the value to be added.
_TYPED = re.compile(r'^(emails|phoneNumbers|ims|photos)\[type eq "([^"\\]+)"\]\.(value)$', re.I)


def _typed_value_added(current: Any, operation: Any) -> Any:
    match = _TYPED.match(str(operation.path or ""))
    if match is None or operation.op.value not in ("add", "replace"):
        return operation
    attribute, kind, sub = match.groups()
    values = current.model_dump().get(attribute) or []
    if any(str(v.get("type", "")).lower() == kind.lower() for v in values):
        return operation
    entry = {"type": kind, sub: operation.value}
    return type(operation)(op=PatchOperation.Op("add"), path=attribute, value=[entry])


class AccessflowScimService(ScimService):
    """scim2-server's service with bounded filters and the identity providers' PATCH shapes."""

    def read_search(self, resource_types, payload):
        if isinstance(payload, dict):
            text = next((v for k, v in payload.items() if k.lower() == "filter"), None)
            if isinstance(text, str):
                check_filter_bounds(text)
        return super().read_search(resource_types, payload)

    def read_patch(self, resource_type, body, content_type):
        return super().read_patch(resource_type, _rewritten(body, _operations), content_type)

    def read_creation(self, resource_type, body, content_type):
        return super().read_creation(resource_type, _rewritten(body, _idp_resource), content_type)

    def read_replacement(self, resource_type, body, content_type):
        body = _rewritten(body, _idp_resource)
        return super().read_replacement(resource_type, body, content_type)

    def apply_patch(self, current, patch_op, conditions):
        operations = [_typed_value_added(current, op) for op in patch_op.operations or []]
        patch_op = type(patch_op)(operations=operations)
        return super().apply_patch(current, patch_op, conditions)

    def patch_response(self, base_url, resource, response_parameters):
        """200 with the resource (RFC 7644 §3.5.2 allows it), which every IdP reads."""
        published = self.publish(base_url, resource)
        context = Context.RESOURCE_REPLACEMENT_RESPONSE
        return self.resource_response(published, context, response_parameters)


SERVICE = AccessflowScimService(PROVIDER)
