"""Recording the audit trail: one append-only event per state change."""

from engine.db import db
from engine.models import AuditEvent

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
    "cancelled",
    "workflow_deployed",
    "directory_imported",
    "token_issued",
)


def record(
    event: str, actor_id: str | None = None, *, item=None, task_id=None, comment=None, **details
):
    """Append one event; `details` must never carry a secret (callers pass ids and names only)."""
    db.session.add(
        AuditEvent(
            event=event,
            actor_id=actor_id,
            request_id=item.request_id if item is not None else details.pop("request_id", None),
            item_id=item.id if item is not None else None,
            task_id=task_id,
            comment=comment,
            details=details or None,
        )
    )
