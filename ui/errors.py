"""The one place where domain errors become pages, flash messages and form errors; the status
is the error's own (`DomainError.status`)."""

from functools import wraps

from flask import flash, g, render_template, request

from engine.errors import DomainError

TITLES = {
    400: "Request refused",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    413: "Too large",
    422: "Please check your input",
    429: "Too many attempts",
}


def status_of(err: Exception) -> int:
    return getattr(err, "status", 400)


def render_error(err: Exception, status: int | None = None, message: str | None = None):
    """A full error page for a request that has no form to show again."""
    status = status or status_of(err)
    detail = message or getattr(err, "detail", None) or str(err)
    return render_template("error.html", title=TITLES.get(status, "Error"), detail=detail), status


def form_page(page):
    """On a domain error, show `page(**view_kwargs)` again with the message and its status
    (the view's unit of work has already rolled its change back).

    The failed field (Invalid(..., field=...)) is kept in g.error_field so the template can mark
    that input invalid and point to the message.
    """

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            try:
                return view(*args, **kwargs)
            except DomainError as err:
                g.error_field = err.extra.get("field")
                g.form_values = request.form
                flash(err.detail, "error")
                return page(*args, **kwargs), status_of(err)

        return wrapper

    return decorate
