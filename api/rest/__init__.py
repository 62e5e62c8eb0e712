"""REST API blueprints under /api/v1 (DESIGN.md section 4)."""


def register_api(app) -> None:
    """Attach the REST API, its OpenAPI document and error handlers to `app`."""
