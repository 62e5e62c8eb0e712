"""Server-rendered web pages sharing the engine's service functions with the API."""


def init_ui(app) -> None:
    """Attach the web pages, login and CSRF protection to `app`."""
