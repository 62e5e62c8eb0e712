"""REST API blueprints under /api/v1 and their OpenAPI document (docs/api.md)."""

import http

from flask_smorest import Api
from flask_smorest.utils import prepare_response

from api.problems import PROBLEM_JSON, register_app_fallback
from api.schemas import ProblemSchema

OPENAPI_SETTINGS = {
    "API_TITLE": "accessflow",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api",
    "OPENAPI_JSON_PATH": "openapi.json",
    "API_SPEC_OPTIONS": {
        "security": [{"bearerAuth": []}],
        "info": {
            "description": "Access requests as BPMN workflows. Authenticate with "
            "`Authorization: Bearer <token>` (`accessflow token USERNAME`). Errors are "
            "application/problem+json. Lists answer `{items, next}`: pass `next` back as "
            "`cursor` for the following page."
        },
    },
}


class AccessflowApi(Api):
    """flask-smorest's Api with problem+json documented as the error answer everywhere."""

    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self):
        register_app_fallback(self._app)

    def _register_responses(self):
        for status in http.HTTPStatus:
            response = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_JSON)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Problem (RFC 9457)", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_JSON)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, response, lazy=True)


def register_api(app) -> None:
    """Attach the REST API, its OpenAPI document, docs page and error handlers to `app`."""
    from api.docs import docs_page
    from api.rest import (
        admin_directory,
        admin_expiry,
        admin_identity,
        admin_provisioning,
        admin_scim,
        admin_sod,
        admin_sync,
        applications,
        cart,
        health,
        me,
        requests,
        tasks,
    )

    for key, value in OPENAPI_SETTINGS.items():
        app.config.setdefault(key, value)
    api = AccessflowApi(app)
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "description": "accessflow token"}
    )
    for module in (
        applications,
        cart,
        requests,
        tasks,
        me,
        health,
        admin_provisioning,
        admin_sync,
        admin_directory,
        admin_sod,
        admin_scim,
        admin_expiry,
        admin_identity,
    ):
        api.register_blueprint(module.blp)
    app.register_blueprint(docs_page)
