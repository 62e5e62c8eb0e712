"""The one place where errors become `application/problem+json` (RFC 9457) answers."""

import logging

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from engine.errors import DomainError

PROBLEM_JSON = "application/problem+json"
API_PATHS = ("/api/", "/healthz")
log = logging.getLogger("accessflow.api")


class Unauthenticated(DomainError):
    """No bearer token, or one that is unknown or revoked."""

    status = 401
    title = "Unauthorized"


def problem(status: int, title: str, detail: str | None = None, headers=None, **extra):
    """A problem+json response; `extra` adds members such as `field` or `item`."""
    body = {"type": "about:blank", "status": status, "title": title}
    if detail:
        body["detail"] = detail
    body.update({k: v for k, v in extra.items() if v is not None})
    response = jsonify(body)
    response.status_code = status
    response.mimetype = PROBLEM_JSON
    response.headers.update(headers or {})
    return response


def from_domain_error(err: DomainError):
    headers = {"WWW-Authenticate": 'Bearer realm="accessflow"'} if err.status == 401 else None
    return problem(err.status, err.title, err.detail, headers=headers, **err.extra)


def from_http_exception(err: HTTPException):
    data = getattr(err, "data", None) or {}
    headers = {k: v for k, v in (data.get("headers") or {}).items() if k.lower() == "allow"}
    if err.code == 405 and hasattr(err, "valid_methods") and err.valid_methods:
        headers["Allow"] = ", ".join(err.valid_methods)
    if "messages" in data:
        return _validation_problem(err.code, data["messages"])
    return problem(err.code or 500, err.name, err.description, headers=headers)


def _validation_problem(status: int, messages: dict):
    """webargs' {location: {field: [messages]}} as one detail line naming every field."""
    errors = {}
    for by_field in messages.values():
        if not isinstance(by_field, dict):
            by_field = {"_schema": by_field}
        errors.update(by_field)
    named = [f for f in errors if f != "_schema"]
    detail = "; ".join(
        (f"{field}: " if field != "_schema" else "the body: ") + _flatten(reasons)
        for field, reasons in errors.items()
    )
    title = "Invalid input" if status == 422 else "Bad request"
    field = named[0] if named else None
    return problem(status, title, detail or None, field=field, errors=errors)


def _flatten(reasons) -> str:
    if isinstance(reasons, dict):
        return "; ".join(f"{k}: {_flatten(v)}" for k, v in reasons.items())
    if isinstance(reasons, list | tuple):
        return " ".join(_flatten(r) for r in reasons)
    return str(reasons)


def from_unexpected(err: Exception):
    """A bug: logged here with its traceback, answered without one."""
    if isinstance(err, HTTPException):
        return from_http_exception(err)
    if isinstance(err, DomainError):
        return from_domain_error(err)
    log.exception("unhandled error in %s %s", request.method, request.path)
    return problem(500, "Internal server error", "the server failed; the error is logged")


def register_problem_handlers(target) -> None:
    """Attach the handlers to a blueprint (errors raised in its views)."""
    target.register_error_handler(DomainError, from_domain_error)
    target.register_error_handler(HTTPException, from_http_exception)
    target.register_error_handler(Exception, from_unexpected)


def register_app_fallback(app: Flask) -> None:
    """Unknown /api paths and wrong methods there answer problem+json; other paths (the UI's
    pages) keep Flask's default answers."""

    def fallback(err: HTTPException):
        if request.path.startswith(API_PATHS):
            return from_http_exception(err)
        return err

    app.register_error_handler(HTTPException, fallback)
