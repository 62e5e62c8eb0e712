"""Signing in with a local password and signing out."""

from flask import g, redirect, render_template, request, session, url_for

from engine.authentication import authenticate
from ui.blueprint import bp


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an absolute or protocol-relative URL."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("ui.home")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method != "POST":
        if g.user is not None:
            return redirect(_safe_next(request.args.get("next")))
        return render_template("login.html", next=request.args.get("next", ""))
    user = authenticate(request.form.get("username", ""), request.form.get("password", ""))
    if user is None:
        g.error_field = "password"
        page = render_template(
            "login.html",
            next=request.form.get("next", ""),
            username=request.form.get("username", ""),
            error="Unknown username or wrong password.",
        )
        return page, 401
    session.clear()  # a fresh session on login: no fixation
    session["user_id"] = user.id
    session.permanent = False
    return redirect(_safe_next(request.form.get("next")))


@bp.route("/logout", methods=["POST"])
def logout():
    session.clear()
    return redirect(url_for("ui.login"))


@bp.route("/")
def home():
    if g.user is None:
        return redirect(url_for("ui.login"))
    return redirect(url_for("ui.catalog"))
