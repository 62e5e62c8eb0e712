"""Administrators: the OpenID Connect providers people sign in through (single sign-on).

Every route refuses non-admins (403) before it looks anything up. The client secret is
write-only: answers show it as ********; sending ******** (or leaving it out) keeps it."""

from marshmallow import Schema, fields, validate

from api.auth import current_user
from api.rest.resource import resource_blueprint
from api.schemas import Text, UtcDateTime
from engine.directory import identity_providers as providers
from engine.directory.authentication import require_admin
from engine.unit_of_work import unit_of_work

blp = resource_blueprint(
    "admin_identity",
    "/api/v1/admin/identity-providers",
    "OpenID Connect providers for single sign-on (administrators)",
)


@blp.before_request
def _admins_only() -> None:
    require_admin(current_user(), "configure identity providers")


class ProviderSchema(Schema):
    key = fields.String(metadata={"description": "in the sign-in URL: /login/sso/<key>"})
    name = fields.String(metadata={"description": 'shown as "Sign in with <name>"'})
    issuer = fields.String(metadata={"description": "discovery below /.well-known/..."})
    client_id = fields.String()
    client_secret = fields.String(allow_none=True, metadata={"description": "always ********"})
    scopes = fields.String()
    username_claim = fields.String()
    group_claim = fields.String(allow_none=True)
    enabled = fields.Boolean()
    created_at = UtcDateTime()
    updated_at = UtcDateTime()


class ProviderList(Schema):
    items = fields.List(fields.Nested(ProviderSchema))


class ProviderPatch(Schema):
    name = Text(validate=validate.Length(1, 100))
    issuer = Text(validate=validate.Length(1, 500), metadata={"description": "https URL"})
    client_id = Text(validate=validate.Length(1, 300))
    client_secret = Text(
        load_only=True,
        validate=validate.Length(max=2000),
        metadata={"description": "write-only; ******** or omitted keeps the stored one"},
    )
    scopes = Text(validate=validate.Length(1, 500), metadata={"description": "must hold openid"})
    username_claim = Text(validate=validate.Length(1, 100))
    group_claim = Text(allow_none=True, validate=validate.Length(max=100))
    enabled = fields.Boolean(truthy={True}, falsy={False})


class ProviderIn(ProviderPatch):
    key = Text(required=True, validate=validate.Length(1, 50))
    name = Text(required=True, validate=validate.Length(1, 100))
    issuer = Text(required=True, validate=validate.Length(1, 500))
    client_id = Text(required=True, validate=validate.Length(1, 300))


class RemovalIn(Schema):
    reason = Text(validate=validate.Length(max=4000), metadata={"description": "for the audit"})


@blp.route("")
@blp.response(200, ProviderList)
def list_providers():
    """Every configured provider, by key."""
    with unit_of_work():
        return {"items": [providers.masked(p) for p in providers.list_providers(current_user())]}


@blp.route("", methods=["POST"])
@blp.arguments(ProviderIn)
@blp.response(201, ProviderSchema)
@blp.alt_response(409, response="CONFLICT")
def add_provider(data):
    """Add a provider (409 when the key is taken); the login page offers it at once."""
    with unit_of_work():
        return providers.masked(providers.add_provider(current_user(), data))


@blp.route("/<string:key>")
@blp.response(200, ProviderSchema)
def show_provider(key):
    """One provider (its secret shown as ********)."""
    with unit_of_work():
        require_admin(current_user())
        return providers.masked(providers.provider(key))


@blp.route("/<string:key>", methods=["PATCH"])
@blp.arguments(ProviderPatch)
@blp.response(200, ProviderSchema)
def change_provider(data, key):
    """Edit a provider; disabling the last one while local passwords are off is refused (409)."""
    with unit_of_work():
        return providers.masked(providers.change_provider(current_user(), key, data))


@blp.route("/<string:key>", methods=["DELETE"])
@blp.arguments(RemovalIn, as_kwargs=True)
@blp.response(204)
def remove_provider(key, reason=None):
    """Remove a provider; the last one while local passwords are off is refused (409)."""
    with unit_of_work():
        providers.remove_provider(current_user(), key, reason)
