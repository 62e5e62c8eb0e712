"""Typed domain errors; the API and UI turn them into status codes in one place each."""


class DomainError(Exception):
    """Base of every error a service function raises on purpose."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str, **extra):
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(DomainError):
    status = 404
    title = "Not found"


class NotAllowed(DomainError):
    status = 403
    title = "Forbidden"


class Conflict(DomainError):
    status = 409
    title = "Conflict"


class StaleWrite(Conflict):
    """A write the version column refused: the row changed since this unit read it."""


class Invalid(DomainError):
    status = 422
    title = "Invalid input"


class WorkflowFault(DomainError):
    """A deployed workflow failed while running: an expression, a timer value, its budget.

    The fault is the workflow's, not the caller's: the item goes to an incident."""

    status = 422
    title = "Workflow failed"
