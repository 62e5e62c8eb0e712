"""The `ui` blueprint: the signed-in user, CSRF on every form, security headers, error pages."""

from functools import wraps
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    redirect,
    request,
    send_from_directory,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import RequestEntityTooLarge

from api.problems import problem
from api.request_body import field_with_nul
from engine.directory.authentication import session_user
from engine.errors import DomainError, Invalid
from engine.requests.cart import list_cart
from engine.requests.items import can_see_item
from engine.requests.listing import inbox_count
from ui import csrf
from ui.errors import render_error

bp = Blueprint(
    "ui",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/assets",
)

NODE_MODULES = Path(__file__).resolve().parent.parent / "node_modules"
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
OPEN_TO_ANONYMOUS_POSTS = ("ui.login", "ui.logout")
MODELER_CALLS = ("ui.designer_validate", "ui.designer_deploy")
CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


@bp.before_request
def _load_user_and_check_csrf():
    g.user = session_user(session.get("user_id"), session.get("session_version"))
    g.error_field = g.form_values = None
    g.error_extra = {}
    if request.method in UNSAFE_METHODS:
        if g.user is None and request.endpoint not in OPEN_TO_ANONYMOUS_POSTS:
            return _to_login()  # before the CSRF check reads a stranger's body
        csrf.protect()
        field = field_with_nul(request.form)
        if field:
            raise Invalid(f"{field}: must not contain NUL characters", field=field)


@bp.after_request
def _security_headers(response):
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    if response.mimetype == "text/html":
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(DomainError)
def _domain_error(err):
    return render_error(err)


@bp.errorhandler(CSRFError)
def _csrf_error(err):
    return render_error(
        err,
        status=400,
        message="The form expired or was not sent by this site. Reload the page and try again.",
    )


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(err):
    detail = f"The upload is larger than {current_app.config['MAX_CONTENT_LENGTH']} bytes."
    if request.endpoint in MODELER_CALLS:  # the modeler's script reads problem+json
        return problem(413, "Content too large", detail, ok=False, error=detail)
    return render_error(err, status=413, message=detail)


@bp.app_context_processor
def _template_globals():
    user = g.get("user")
    if user is None:
        return {"current_user": None}
    return {
        "current_user": user,
        # The badge counts what the user may act on now: not a task someone else claimed.
        "nav_counts": lambda: {
            "cart": len(list_cart(user)),
            "inbox": inbox_total(user, "claimable"),
        },
        "can_see_item": lambda item: can_see_item(user, item),
    }


def inbox_total(user, view: str = "all", filters=None) -> int:
    """The capped count of an inbox view, counted once per request (the menu and the inbox
    page both show it)."""
    counted = g.setdefault("inbox_counts", {})
    key = (view, filters)
    if key not in counted:
        counted[key] = inbox_count(user, view, filters=filters)
    return counted[key]


def login_required(view):
    """Send anonymous visitors to the login page, coming back here afterwards."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if g.get("user") is None:
            return _to_login()
        return view(*args, **kwargs)

    return wrapper


def _to_login():
    return redirect(url_for("ui.login", next=request.full_path.rstrip("?")))


@bp.route("/favicon.ico")
def favicon():
    """Browsers ask for /favicon.ico whatever the page says: the icon is the SVG in assets."""
    return redirect(url_for("ui.static", filename="favicon.svg"), code=301)


@bp.route("/assets/vendor/bpmn-js/<path:filename>")
def bpmn_js_asset(filename):
    """bpmn-js files straight from node_modules (installed by `npm ci`, never committed)."""
    dist = NODE_MODULES / "bpmn-js" / "dist"
    if not dist.is_dir():
        abort(404)
    return send_from_directory(dist, filename, max_age=3600)
