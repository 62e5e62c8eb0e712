"""Single sign-on with OpenID Connect (Authlib's Flask client): authorization code with PKCE
(S256), state and nonce checked, the id_token's signature and claims validated against the
provider's published keys. The provider's username claim names an existing, active user."""

import logging
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from authlib.common.errors import AuthlibBaseError
from flask import redirect, render_template, request, session, url_for
from joserfc.errors import JoseError

from engine.directory.identity_providers import client_secret_of, provider
from engine.directory.single_sign_on import sso_user
from engine.errors import DomainError
from engine.models import IdentityProvider
from engine.unit_of_work import unit_of_work
from ui.blueprint import bp
from ui.views.auth import safe_next, start_session

if TYPE_CHECKING:
    from authlib.integrations.flask_client import FlaskOAuth2App

log = logging.getLogger(__name__)
# One Authlib client per provider version: it keeps the discovery document it read.
_clients: dict[tuple[str, str], "FlaskOAuth2App"] = {}


def _client(found: IdentityProvider) -> "FlaskOAuth2App":
    # Imported at first use: Authlib's client costs every process's start-up 0.4 s otherwise.
    from authlib.integrations.flask_client import FlaskIntegration, FlaskOAuth2App

    version = (found.key, found.updated_at.isoformat())
    if version not in _clients:
        for stale in [known for known in _clients if known[0] == found.key]:
            del _clients[stale]
        _clients[version] = FlaskOAuth2App(
            FlaskIntegration(f"sso-{found.key}"),
            f"sso-{found.key}",
            client_id=found.client_id,
            client_secret=client_secret_of(found),
            server_metadata_url=found.issuer.rstrip("/") + "/.well-known/openid-configuration",
            client_kwargs={"scope": found.scopes, "code_challenge_method": "S256", "timeout": 10},
        )
    return _clients[version]


def _refused(detail: str, status: int = 403):
    page = render_template("error.html", title="Single sign-on refused", detail=detail)
    return page, status


@bp.route("/login/sso/<string:key>")
def sso_start(key):
    """Send the browser to the provider, remembering state, nonce and the PKCE verifier."""
    with unit_of_work():
        found = provider(key)
        name, client = found.name, _client(found) if found.enabled else None
    if client is None:
        return _refused(f"{name} is not offered for signing in.", 404)
    session["sso_next"] = safe_next(request.args.get("next"))
    try:
        return client.authorize_redirect(url_for("ui.sso_callback", key=key, _external=True))
    except (AuthlibBaseError, OSError, RuntimeError, ValueError) as err:
        log.warning("single sign-on with %s: the provider could not be reached: %s", key, err)
        return _refused(f"{name} could not be reached; try again later.", 502)


@bp.route("/login/sso/<string:key>/callback")
def sso_callback(key):
    """Check what the provider sent back and open the same session a password sign-in opens."""
    with unit_of_work():
        found = provider(key)
        name, client = found.name, _client(found) if found.enabled else None
    if client is None:
        return _refused(f"{name} is not offered for signing in.", 404)
    if request.args.get("error"):  # the person cancelled, or the provider refused them
        error = request.args["error"][:100]
        return _refused(f"{name} did not sign you in ({error}). Start again from the login page.")
    try:
        token = client.authorize_access_token()
    except (AuthlibBaseError, JoseError, OSError, RuntimeError, ValueError, KeyError) as err:
        # The error names what failed (state, nonce, signature...), never the secret or the code.
        log.warning("single sign-on with %s refused: %s", key, type(err).__name__)
        return _refused(
            f"The answer from {name} could not be verified (it may have been used already "
            "or come from another browser). Start again from the login page.",
            400,
        )
    claims = token.get("userinfo")
    if not claims:
        return _refused(f"{name} sent no identity (id_token) to check.", 400)
    with unit_of_work():
        user, refusal = sso_user(provider(key), dict(claims))
    if user is None:
        return _refused(refusal)
    target = session.get("sso_next") or url_for("ui.home")
    start_session(user)  # a new session: nothing of the anonymous one (fixation) is kept
    session["sso_provider"] = key
    return redirect(target)


def provider_logout(key: str):
    """After the session has ended here: RP-initiated logout at the provider when it advertises
    an end_session_endpoint (back to the login page afterwards), else the login page."""
    back = url_for("ui.login", _external=True)
    try:
        with unit_of_work():
            found = provider(key)
            client = _client(found) if found.enabled else None
        endpoint = client.load_server_metadata().get("end_session_endpoint") if client else None
    except (DomainError, AuthlibBaseError, OSError, RuntimeError, ValueError) as err:
        log.warning("single sign-on with %s: no logout at the provider: %s", key, err)
        endpoint = None
    if not endpoint:
        return redirect(url_for("ui.login"))
    query = urlencode({"client_id": client.client_id, "post_logout_redirect_uri": back})
    return redirect(f"{endpoint}{'&' if '?' in endpoint else '?'}{query}")
