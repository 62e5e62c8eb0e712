"""The one place where domain errors become pages, flash messages and form errors; the status
is the error's own (`DomainError.status`)."""

import re
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


# The words a page uses for a field a domain error names (`Invalid(..., field=...)`): the engine's
# messages speak the API's field names, which a person filling a form never sees.
FIELD_WORDS = {
    "account_id": "the account id",
    "account_mode": "the account mode",
    "beneficiary": "the person",
    "justification": "the justification",
    "decision": "the decision",
    "comment": "the comment",
    "idempotency_key": "the form's submission key",
    "application": "the application",
}
# What to ask for when a field is missing, where a plain "X is required" says too little.
MISSING = {
    "account_id": "Enter the id of the account you created or updated, so it is on record.",
}


def readable(err: Exception) -> str:
    """The error's message in a form's words: field names become what the page calls them."""
    detail = getattr(err, "detail", None) or str(err)
    field = getattr(err, "extra", {}).get("field")
    if not field or not re.search(rf"\b{re.escape(field)}\b", detail):
        return detail
    if field in MISSING and re.match(
        rf"{re.escape(field)}:? (is required|must not be empty)", detail
    ):
        return MISSING[field]
    words = FIELD_WORDS.get(field, field.replace("_", " "))
    text = re.sub(rf"\b{re.escape(field)}\b:?", words, detail)
    return text[:1].upper() + text[1:]


def status_of(err: Exception) -> int:
    return getattr(err, "status", 400)


def render_error(err: Exception, status: int | None = None, message: str | None = None):
    """A full error page for a request that has no form to show again."""
    status = status or status_of(err)
    detail = message or readable(err)
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
                g.error_extra = err.extra  # e.g. the cart line (`line`) the error is about
                g.form_values = request.form
                flash(readable(err), "error")
                return page(*args, **kwargs), status_of(err)

        return wrapper

    return decorate
