"""Signing in with a local password and signing out."""

import logging
import unicodedata
from datetime import timedelta
from urllib.parse import urlsplit

from flask import current_app, g, redirect, render_template, request, session, url_for
from sqlalchemy.exc import OperationalError, ProgrammingError
from werkzeug.urls import iri_to_uri

from engine import settings
from engine.directory.authentication import authenticate, end_sessions
from engine.directory.identity_providers import enabled_providers
from engine.directory.login_throttle import LoginLimits, TooManySignIns, note_attempt, note_success
from engine.unit_of_work import unit_of_work
from ui.blueprint import bp

log = logging.getLogger(__name__)


def safe_next(target: str | None) -> str:
    """Only a path on this site: never an absolute or protocol-relative URL, and nothing a
    browser would quietly strip (tab, CR, LF) to turn `/\\t/evil.example` into `//evil.example`."""
    fallback = url_for("ui.home")
    if not target or not target.startswith("/") or "\\" in target:
        return fallback
    if any(unicodedata.category(c)[0] in "CZ" for c in target):  # controls and any whitespace
        return fallback
    parts = urlsplit(target)
    if target.startswith("//") or parts.scheme or parts.netloc:
        return fallback
    return iri_to_uri(target)


def _login_limits() -> LoginLimits:
    config = current_app.config
    return LoginLimits(
        per_account=config["LOGIN_FAILURES_PER_ACCOUNT"],
        per_address=config["LOGIN_FAILURES_PER_ADDRESS"],
        window=timedelta(minutes=config["LOGIN_FAILURE_WINDOW_MINUTES"]),
    )


def _login_page(**values):
    try:
        with unit_of_work():
            providers = [(found.key, found.name) for found in enabled_providers()]
            passwords = settings.get("local_passwords") == "on"
    except (OperationalError, ProgrammingError) as err:  # no schema yet (before `init`)
        log.warning("login page without single sign-on: %s", type(err).__name__)
        providers, passwords = [], True
    return render_template("login.html", providers=providers, passwords=passwords, **values)


def _refused(error: str, status: int, headers=None):
    g.error_field = "password"
    page = _login_page(
        next=request.form.get("next", ""),
        username=request.form.get("username", ""),
        error=error,
    )
    return page, status, headers or {}


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method != "POST":
        if g.user is not None:
            return redirect(safe_next(request.args.get("next")))
        return _login_page(next=request.args.get("next", ""))
    with unit_of_work():
        passwords = settings.get("local_passwords") == "on"
    if not passwords:
        return _refused("Local passwords are turned off: sign in with your organisation.", 403)
    username = request.form.get("username", "").strip()
    address = request.remote_addr or "unknown"
    # Counted in a unit of its own before the slow password check, so parallel guesses all see
    # it; a refused attempt counts too, and the lockout's audit row stays.
    with unit_of_work():
        refused = _count_attempt(username, address)
    if refused is not None:
        return _refused(refused.detail, 429, {"Retry-After": str(refused.extra["retry_after"])})
    user = authenticate(username, request.form.get("password", ""))
    if user is None:
        return _refused("Unknown username or wrong password.", 401)
    with unit_of_work():
        note_success(username, address)
    start_session(user)
    return redirect(safe_next(request.form.get("next")))


def start_session(user) -> None:
    """The signed-in session, password or single sign-on alike: a fresh one (no fixation)."""
    session.clear()
    session["user_id"] = user.id
    session["session_version"] = user.session_version
    session.permanent = False


def _count_attempt(username: str, address: str) -> TooManySignIns | None:
    try:
        note_attempt(username, address, _login_limits())
    except TooManySignIns as err:
        return err
    return None


@bp.route("/logout", methods=["POST"])
def logout():
    if g.user is not None:
        with unit_of_work():
            end_sessions(g.user)  # a copy of this cookie must not keep working after sign-out
    provider_key = session.get("sso_provider")
    session.clear()
    if provider_key:
        from ui.views.sso import provider_logout

        return provider_logout(provider_key)
    return redirect(url_for("ui.login"))


@bp.route("/")
def home():
    if g.user is None:
        return redirect(url_for("ui.login"))
    return redirect(url_for("ui.catalog"))
