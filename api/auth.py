"""Who is calling the API: bearer tokens only, never the browser's session cookie (no CSRF)."""

from flask import g, request

from api.problems import Unauthenticated
from engine.directory.tokens import user_for_token
from engine.models import User


def authenticate() -> None:
    """Run before every /api/v1 view: sets the caller or answers 401."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("send Authorization: Bearer <token> (see `accessflow token`)")
    user = user_for_token(token)
    if user is None:
        raise Unauthenticated("the token is unknown or revoked")
    g.api_user = user


def current_user() -> User:
    """The authenticated caller of this API request."""
    return g.api_user
