"""Submitted requests and their items, as the caller may see them."""

from api.auth import current_user
from api.rest.resource import link, resource_blueprint
from api.schemas import (
    CancelIn,
    ItemDetailSchema,
    ItemPage,
    ItemsQuery,
    PageQuery,
    RequestPage,
    RequestSchema,
)
from engine.requests import items, listing
from engine.unit_of_work import unit_of_work

blp = resource_blueprint("requests", "/api/v1", "Requests and their items")


@blp.route("/requests")
@blp.arguments(PageQuery, location="query", as_kwargs=True)
@blp.response(200, RequestPage)
def list_requests(limit, cursor=None):
    """The caller's own requests, newest first."""
    return listing.requests_page(current_user(), limit, cursor)


@blp.route("/requests/<uuid:request_id>")
@blp.response(200, RequestSchema)
@blp.doc(operationId="showRequest")
def show_request(request_id):
    """One of the caller's requests with its items."""
    return items.get_request(current_user(), str(request_id))


@blp.route("/items")
@blp.arguments(ItemsQuery, location="query", as_kwargs=True)
@blp.response(200, ItemPage)
@blp.doc(responses={200: link("ShowItem", "showItem", "item_id", "/items/0/id")})
def list_items(limit, cursor=None, status=None):
    """Items the caller requested or that are for them, newest first."""
    return listing.items_page(current_user(), status, limit, cursor)


@blp.route("/items/<uuid:item_id>")
@blp.response(200, ItemDetailSchema)
@blp.doc(operationId="showItem")
def show_item(item_id):
    """One item with its history (requester, beneficiary, task candidates and admins)."""
    return items.get_item(current_user(), str(item_id))


@blp.route("/items/<uuid:item_id>/cancel", methods=["POST"])
@blp.arguments(CancelIn, required=False, as_kwargs=True)
@blp.response(200, ItemDetailSchema)
@blp.doc(operationId="cancelItem")
@blp.alt_response(409, response="CONFLICT")
def cancel_item(item_id, reason=None):
    """The requester (or an admin) withdraws an item that has not finished; 409 when it has."""
    with unit_of_work():
        return items.cancel_item(current_user(), str(item_id), reason)
