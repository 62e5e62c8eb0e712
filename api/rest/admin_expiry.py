"""Admins' "expiring soon" list: the active assignments whose end date falls within a window."""

from marshmallow import validate

from api.auth import current_user
from api.rest.admin_directory import csv_answer
from api.rest.admin_directory_schemas import ASSIGNMENT_COLUMNS, FORMAT, AssignmentSchema
from api.rest.resource import resource_blueprint
from api.schemas import PageQuery, Text, page_of
from engine.access import expiring

blp = resource_blueprint(
    "admin_expiry", "/api/v1/admin", "Administration: access that ends soon (admins only)"
)


class ExpiringQuery(PageQuery):
    expiring_within = Text(
        load_default=expiring.DEFAULT_WINDOW,
        validate=validate.Length(1, 40),
        metadata={"description": "ISO 8601 duration from now (default P30D)"},
    )
    application = Text(validate=validate.Length(1, 100))
    format = FORMAT


ExpiringPage = page_of(AssignmentSchema)


@blp.route("/assignments")
@blp.arguments(ExpiringQuery, location="query", as_kwargs=True)
@blp.response(200, ExpiringPage)
@blp.alt_response(200, content_type="text/csv", description="with format=csv")
def list_expiring(expiring_within, format, limit, cursor=None, application=None):
    """Active assignments ending within `expiring_within` (ISO 8601 duration, default P30D),
    soonest first, page by page; `application` narrows to one. `format=csv` exports all."""
    within = expiring.window(expiring_within)
    if format == "csv":
        rows = list(expiring.each_expiring(current_user(), within, application=application))
        return csv_answer(
            AssignmentSchema(many=True).dump(rows), ASSIGNMENT_COLUMNS, "expiring.csv"
        )
    return expiring.expiring_soon(
        current_user(), within, application=application, limit=limit, cursor=cursor
    )
