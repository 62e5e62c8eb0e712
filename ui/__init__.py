"""Server-rendered web pages sharing the engine's service functions with the API."""

from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()


def init_ui(app) -> None:
    """Attach the web pages, login and CSRF protection to `app`."""
    # Only the pages check CSRF (in the blueprint's before_request); the API uses bearer tokens.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # the token lives as long as the session
    csrf.init_app(app)

    from ui import views  # noqa: F401  (registers the routes on the blueprint)
    from ui.blueprint import bp

    app.register_blueprint(bp)
