"""A REST resource's blueprint: authenticated by bearer token, errors as problem+json."""

from flask_smorest import Blueprint

from api.auth import authenticate
from api.problems import register_problem_handlers
from api.request_body import JsonBodyParser


class ResourceBlueprint(Blueprint):
    ARGUMENTS_PARSER = JsonBodyParser()


def resource_blueprint(name: str, url_prefix: str, description: str, public=False) -> Blueprint:
    """Made once per module at import time, so repeated create_app calls add nothing twice."""
    blp = ResourceBlueprint(
        name, f"api.rest.{name}", url_prefix=url_prefix, description=description
    )
    if not public:
        blp.before_request(authenticate)
    register_problem_handlers(blp)
    return blp


def link(name: str, operation_id: str, parameter: str, pointer: str = "/id") -> dict:
    """An OpenAPI link from an answer to the operation its id feeds (clients and fuzzers
    follow them)."""
    target = {"operationId": operation_id, "parameters": {parameter: f"$response.body#{pointer}"}}
    return {"links": {name: target}}


def links(*each: dict) -> dict:
    """Several link() results as one response's links."""
    return {"links": {k: v for one in each for k, v in one["links"].items()}}
