"""Recording the audit trail: one append-only event per state change."""

from sqlalchemy import insert

from engine.db import db, utcnow
from engine.models import AuditEvent

_INSERT = insert(AuditEvent.__table__)  # type: ignore[arg-type]  # a Table at run time

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
)


def record(
    event: str, actor_id: str | None = None, *, item=None, task_id=None, comment=None, **details
):
    """Append one event; `details` must never carry a secret (callers pass ids and names only).

    The row is written at once in the operation's transaction (so a rollback drops it too): an
    append-only row needs none of the ORM's change tracking, which costs more than the INSERT.
    """
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
    with db.session.no_autoflush:  # nothing pending is needed first: it is flushed at commit
        db.session.execute(_INSERT, row)
