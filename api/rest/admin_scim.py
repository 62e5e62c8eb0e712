"""Administrators: the SCIM tokens identity providers push with (listed, revoked; issued only
by `accessflow scim-token NAME`, so a token is never in an API answer)."""

from marshmallow import Schema, fields

from api.auth import current_user
from api.rest.resource import resource_blueprint
from api.schemas import UtcDateTime
from engine.scim import tokens
from engine.unit_of_work import unit_of_work

blp = resource_blueprint(
    "admin_scim", "/api/v1/admin/scim-tokens", "SCIM tokens of identity providers (admins)"
)


class ScimTokenSchema(Schema):
    name = fields.String(required=True)
    created_at = UtcDateTime(required=True)
    last_used_at = UtcDateTime(allow_none=True)
    revoked_at = UtcDateTime(allow_none=True)


class ScimTokenList(Schema):
    items = fields.List(fields.Nested(ScimTokenSchema), required=True)


@blp.route("")
@blp.response(200, ScimTokenList)
def list_scim_tokens():
    """Every SCIM token by name, live or revoked (never the token itself)."""
    return {"items": tokens.list_scim_tokens(current_user())}


@blp.route("/<string:name>", methods=["DELETE"])
@blp.response(204)
def revoke_scim_token(name):
    """Revoke a SCIM token: the identity provider using it is refused from now on."""
    with unit_of_work():
        tokens.revoke_scim_token(name, current_user())
