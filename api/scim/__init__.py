"""The inbound SCIM 2.0 server at /scim/v2 (RFC 7643/7644), for Entra ID, Okta and other IdPs.

scim2-server's handler serves the protocol over `engine.scim.storage`; this blueprint only
authenticates the SCIM token, opens one unit of work per request, and turns every error into
a SCIM error (never a 500 for bad input). SCIM tokens and API tokens are not interchangeable."""

import json
import logging
from datetime import timedelta

from flask import Blueprint, Response, request
from scim2_models import (
    ConflictException,
    ForbiddenException,
    InvalidValueException,
    NotFoundException,
    PayloadTooLargeException,
    SCIMException,
    UnauthorizedException,
    UniquenessException,
)
from scim2_server.handler import ScimHandler
from scim2_server.requests import ScimRequest
from scim2_server.routing import Operation
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from engine.audit import trail
from engine.db import db, utcnow
from engine.errors import Conflict, DomainError, NotAllowed, NotFound, StaleWrite
from engine.scim import storage
from engine.scim.protocol import MAX_BODY_BYTES, SERVICE
from engine.scim.tokens import scim_token_for, touch_scim_token
from engine.unit_of_work import after_commit, unit_of_work

PREFIX = "/scim/v2"
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
HANDLER = ScimHandler(SERVICE, storage.DirectoryStorage())
log = logging.getLogger("accessflow.scim")
scim_bp = Blueprint("scim", __name__, url_prefix=PREFIX)


@scim_bp.route("", defaults={"path": ""}, methods=METHODS)
@scim_bp.route("/<path:path>", methods=METHODS)
def serve(path: str) -> Response:
    scim_request = ScimRequest(
        method=request.method,
        base_url=request.host_url.rstrip("/") + PREFIX,
        path="/" + path.removesuffix(".scim"),
        query=request.args.to_dict(),
        headers=list(request.headers.items()),
    )
    try:
        scim_request.body = _body()
        answer = _handle(scim_request)
    except Exception as err:  # every failure is a SCIM error; a bug is logged, not shown
        answer = SERVICE.error_response(_scim_error(err))
    return _response(answer)


@scim_bp.errorhandler(Exception)
def _before_the_view(err: Exception) -> Response:
    """What fails before `serve` runs (the app's NUL check, a method not served) is a SCIM
    error too."""
    if isinstance(err, HTTPException):
        error = SCIMException(detail=err.description)
        error.status = err.code or 500
        return _response(SERVICE.error_response(error))
    return _response(SERVICE.error_response(_scim_error(err)))


def _response(answer) -> Response:
    body = b"" if answer.body is None else json.dumps(answer.body).encode()
    return Response(body, status=int(answer.status), headers=answer.headers)


def _body() -> bytes:
    """At most MAX_BODY_BYTES; more is a 413, with or without a Content-Length."""
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise PayloadTooLargeException(detail=f"the body exceeds {MAX_BODY_BYTES} bytes")
    data = request.stream.read(MAX_BODY_BYTES + 1)
    if len(data) > MAX_BODY_BYTES:
        raise PayloadTooLargeException(detail=f"the body exceeds {MAX_BODY_BYTES} bytes")
    return data


def _handle(scim_request: ScimRequest):
    if SERVICE.match(scim_request).operation is Operation.service_provider_config:
        return HANDLER.handle(scim_request)
    token = storage.writing.set(request.method != "GET")
    try:
        with unit_of_work():  # the token check is part of the request's one transaction
            with trail.acting_as(f"scim:{_authenticate()}"):
                return HANDLER.handle(scim_request)
    finally:
        storage.writing.reset(token)


def _authenticate() -> str:
    """The name of the live SCIM token the request carries, or a 401 (never naming the token)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthorizedException(detail="send Authorization: Bearer <SCIM token>")
    row = scim_token_for(token.strip())
    if row is None:
        raise UnauthorizedException(detail="the SCIM token is unknown or revoked")
    if row.last_used_at is None or utcnow() - row.last_used_at > timedelta(minutes=1):
        # In a transaction of its own after this one: concurrent requests with one token must
        # not queue behind a lock on its row.
        token_id = row.id
        after_commit(lambda: touch_scim_token(token_id))
    return row.name


def _scim_error(err: Exception) -> SCIMException:
    """Domain errors of the services as SCIM errors; anything else is a logged bug."""
    if isinstance(err, SCIMException):
        return err
    if isinstance(err, StaleWrite):
        return ConflictException(detail=err.detail)
    if isinstance(err, Conflict):
        return UniquenessException(detail=err.detail)
    if isinstance(err, NotFound):
        return NotFoundException(detail=err.detail)
    if isinstance(err, NotAllowed):
        return ForbiddenException(detail=err.detail)
    if isinstance(err, DomainError):
        return InvalidValueException(detail=err.detail)
    if isinstance(err, OperationalError) and "locked" in str(err):  # SQLite: one writer
        busy = SCIMException(detail="the directory is busy with another change; retry")
        busy.status = 503
        return busy
    log.exception("SCIM %s %s failed", request.method, request.path)
    db.session.rollback()
    error = SCIMException(detail="the server failed; the error is logged")
    error.status = 500
    return error


def register_scim(app) -> None:
    app.register_blueprint(scim_bp)
