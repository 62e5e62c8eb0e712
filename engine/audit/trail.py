"""Recording the audit trail: one append-only event per state change."""

from contextlib import contextmanager

from sqlalchemy import insert

from engine.db import db, utcnow
from engine.models import AuditEvent

_INSERT = insert(AuditEvent.__table__)  # type: ignore[arg-type]  # a Table at run time
_BATCH = "audit_batch"  # session.info key of the rows a batched() block collects
_ACTOR_NAME = "audit_actor_name"  # session.info key of a caller that is not a person

EVENTS = (
    "submitted",
    "task_created",
    "claimed",
    "released",
    "approved",
    "rejected",
    "fulfilled",
    "provisioning_queued",
    "provisioned",
    "provisioning_failed",
    "provisioning_retried",
    "account_removed",
    "cancelled",
    "workflow_deployed",
    "workflow_draft_deployed",
    "workflow_approved",
    "workflow_rejected",
    "directory_imported",
    "token_issued",
    "expired",
    "incident_resolved",
    "application_quarantined",
    "application_resumed",
    "workflow_failed",
    "workflow_resumed",
    "secrets_reencrypted",
    "sign_in_throttled",
    "sync_requested",
    "sync_allowed",
    "sync_finished",
    "account_reconciled",
    "sso_sign_in_succeeded",
    "sso_sign_in_refused",
    "identity_provider_added",
    "identity_provider_changed",
    "identity_provider_removed",
)


def record(
    event: str, actor_id: str | None = None, *, item=None, task_id=None, comment=None, **details
):
    """Append one event; `details` must never carry a secret (callers pass ids and names only).

    The row is written at once in the operation's transaction (so a rollback drops it too): an
    append-only row needs none of the ORM's change tracking, which costs more than the INSERT.
    """
    acting = db.session.info.get(_ACTOR_NAME)
    if acting is not None:
        details.setdefault("actor_name", acting)
    row = {
        "at": utcnow(),
        "event": event,
        "actor_id": actor_id,
        "request_id": item.request_id if item is not None else details.pop("request_id", None),
        "item_id": item.id if item is not None else None,
        "task_id": task_id,
        "comment": comment,
        "details": details or None,
    }
    batch = db.session.info.get(_BATCH)
    if batch is not None:
        batch.append(row)
        return
    with db.session.no_autoflush:  # nothing pending is needed first: it is flushed at commit
        db.session.execute(_INSERT, row)


@contextmanager
def acting_as(name: str):
    """Name the caller in every event recorded inside (as `details.actor_name`) when it is not
    a person, such as the SCIM token an identity provider pushes changes with."""
    previous = db.session.info.get(_ACTOR_NAME)
    db.session.info[_ACTOR_NAME] = name
    try:
        yield
    finally:
        if previous is None:
            db.session.info.pop(_ACTOR_NAME, None)
        else:
            db.session.info[_ACTOR_NAME] = previous


@contextmanager
def batched():
    """Collect the events recorded inside into one INSERT of many rows, written on the way out
    (in the same transaction); an exception inside drops them with the rest of the work."""
    if db.session.info.get(_BATCH) is not None:  # an outer batch writes them
        yield
        return
    rows = db.session.info[_BATCH] = []
    try:
        yield
    finally:
        db.session.info.pop(_BATCH, None)
    if rows:
        with db.session.no_autoflush:
            db.session.execute(_INSERT, rows)
