"""The caller's cart: gather applications for oneself or colleagues, then submit at once."""

from api.auth import current_user
from api.problems import PROBLEM_JSON
from api.rest.resource import link, links, resource_blueprint
from api.schemas import (
    CartLineIn,
    CartLineSchema,
    CartSchema,
    ProblemSchema,
    RequestSchema,
    SubmitHeaders,
)
from engine.requests import cart
from engine.unit_of_work import unit_of_work

blp = resource_blueprint("cart", "/api/v1/cart", "The caller's cart")


@blp.route("")
@blp.response(200, CartSchema)
def show_cart():
    """The caller's cart: the lines not yet submitted."""
    return {"items": cart.list_cart(current_user())}


@blp.route("/items", methods=["POST"])
@blp.arguments(CartLineIn, as_kwargs=True)
@blp.response(201, CartLineSchema)
@blp.doc(operationId="addToCart", responses={201: link("RemoveLine", "removeFromCart", "line_id")})
def add_to_cart(**line):
    """Put one application for one beneficiary (default: the caller) in the cart."""
    with unit_of_work():
        return cart.add_to_cart(current_user(), **line)


@blp.route("/items/<uuid:line_id>", methods=["DELETE"])
@blp.response(204)
@blp.doc(operationId="removeFromCart")
def remove_from_cart(line_id):
    """Take one line out of the caller's cart."""
    with unit_of_work():
        cart.remove_from_cart(current_user(), str(line_id))


@blp.route("/submit", methods=["POST"])
@blp.arguments(SubmitHeaders, location="headers", as_kwargs=True)
@blp.response(201, RequestSchema)
@blp.alt_response(200, schema=RequestSchema, description="Replay of a submit with this key")
@blp.alt_response(
    409,
    schema=ProblemSchema,
    content_type=PROBLEM_JSON,
    description="A line duplicates an open item, named in the problem",
)
@blp.doc(
    operationId="submitCart",
    responses={
        code: links(
            link("ShowRequest", "showRequest", "request_id"),
            link("ShowItem", "showItem", "item_id", "/items/0/id"),
            link("CancelItem", "cancelItem", "item_id", "/items/0/id"),
        )
        for code in (200, 201)
    },
)
def submit_cart(idempotency_key=None):
    """Submit the cart as one request, one item (and process) per line.

    409 names the open item a line duplicates; 422 for an empty cart; a retried
    `Idempotency-Key` answers 200 with the request the first call created."""
    with unit_of_work(duplicate="the cart or an open request changed meanwhile; try again"):
        request, replayed = cart.submit_cart_once(current_user(), idempotency_key)
    return request, 200 if replayed else 201
