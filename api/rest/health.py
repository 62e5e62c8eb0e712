"""Liveness for load balancers and orchestrators: is the database reachable?"""

from api.problems import problem
from api.rest.resource import resource_blueprint
from api.schemas import HealthSchema
from engine.db import database_reachable

blp = resource_blueprint("health", "/healthz", "Health", public=True)


@blp.route("")
@blp.doc(security=[])
@blp.response(200, HealthSchema)
@blp.alt_response(503, response="SERVICE_UNAVAILABLE")
def health():
    """200 when the database answers, 503 (problem+json) when it does not."""
    if not database_reachable():
        return problem(503, "Service unavailable", "the database is not reachable")
    return {"status": "ok", "database": "ok"}
