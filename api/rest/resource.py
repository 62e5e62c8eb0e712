"""A REST resource's blueprint: authenticated by bearer token, errors as problem+json."""

from flask_smorest import Blueprint

from api.auth import authenticate
from api.problems import register_problem_handlers


def resource_blueprint(name: str, url_prefix: str, description: str, public=False) -> Blueprint:
    """Made once per module at import time, so repeated create_app calls add nothing twice."""
    blp = Blueprint(name, f"api.rest.{name}", url_prefix=url_prefix, description=description)
    if not public:
        blp.before_request(authenticate)
    register_problem_handlers(blp)
    return blp
