"""Separation-of-duties rules: pairs of applications nobody may hold together (administrators)."""

from marshmallow import Schema, fields, validate

from api.auth import current_user
from api.rest.resource import resource_blueprint
from api.schemas import Text
from engine.access import sod
from engine.directory.authentication import require_admin
from engine.unit_of_work import unit_of_work

blp = resource_blueprint(
    "admin_sod", "/api/v1/admin/sod-rules", "Separation-of-duties rules (administrators)"
)


class SodRuleSchema(Schema):
    name = fields.String()
    applications = fields.Method("_keys")

    def _keys(self, rule):
        return [rule.first.key, rule.second.key]


class SodRuleIn(Schema):
    name = Text(required=True, validate=validate.Length(1, 200))
    applications = fields.List(
        Text(validate=validate.Length(1, 100)),
        required=True,
        validate=validate.Length(2, 2),
        metadata={"description": "the two application keys nobody may hold together"},
    )


class SodRuleList(Schema):
    items = fields.List(fields.Nested(SodRuleSchema))


@blp.route("")
@blp.response(200, SodRuleList)
def list_rules():
    """Every rule, by name."""
    require_admin(current_user(), "read separation-of-duties rules")
    return {"items": sod.rules()}


@blp.route("", methods=["POST"])
@blp.arguments(SodRuleIn, as_kwargs=True)
@blp.response(201, SodRuleSchema)
def add_rule(name, applications):
    """Add a rule, or change the applications of the rule of that name."""
    with unit_of_work():
        return sod.add_rule(current_user(), name, applications)


@blp.route("/<path:name>", methods=["DELETE"])
@blp.response(204)
def remove_rule(name):
    """Remove the rule of that name."""
    with unit_of_work():
        sod.remove_rule(current_user(), name)
