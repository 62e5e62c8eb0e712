"""Applications people can request."""

from api.rest.resource import resource_blueprint
from api.schemas import ApplicationPage, PageQuery
from engine.requests import listing

blp = resource_blueprint("applications", "/api/v1/applications", "Applications to request")


@blp.route("")
@blp.arguments(PageQuery, location="query", as_kwargs=True)
@blp.response(200, ApplicationPage)
def list_applications(limit, cursor=None):
    """Every application, by name (connector settings only for admins, secrets masked)."""
    return listing.applications_page(limit, cursor)
