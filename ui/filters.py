"""How domain values read on the pages: people, times, statuses, audit events."""

from engine.tasks import inbox
from ui.blueprint import bp

STATUS_LABELS = {
    "pending_approval": "Pending approval",
    "pending_fulfillment": "Pending fulfillment",
    "provisioning": "Provisioning",
    "failed": "Auto-provision failed",
    "fulfilled": "Fulfilled",
    "rejected": "Rejected",
    "cancelled": "Cancelled",
    "open": "Open",
    "completed": "Completed",
}
# How each audit event reads after its actor's name ("Mark Manager approved"); one per name in
# engine.audit.trail.EVENTS (a test holds them together), all past tense like the names themselves.
EVENT_LABELS = {
    "submitted": "submitted the request",
    "task_created": "created a task",
    "claimed": "claimed the task",
    "released": "released the task",
    "approved": "approved",
    "rejected": "rejected",
    "fulfilled": "created the account",
    "provisioning_queued": "queued the provisioning",
    "provisioned": "provisioned the account",
    "provisioning_failed": "could not provision the account",
    "provisioning_retried": "retried the provisioning",
    "account_removed": "removed the account",
    "cancelled": "cancelled",
    "workflow_deployed": "deployed a workflow",
    "workflow_draft_deployed": "deployed a workflow draft",
    "workflow_approved": "approved a workflow draft",
    "workflow_rejected": "rejected a workflow draft",
    "directory_imported": "imported the directory",
    "token_issued": "issued an API token",
    "expired": "expired the item: nobody decided in time",
    "incident_resolved": "resolved an incident",
    "application_quarantined": "quarantined the application after repeated failures",
    "application_resumed": "resumed the application",
    "workflow_failed": "stopped the item: its workflow failed",
    "workflow_resumed": "resumed the item's workflow",
    "secrets_reencrypted": "re-encrypted connector secrets",
    "sign_in_throttled": "throttled sign-ins after repeated failures",
    "sync_requested": "asked for a sync of the application",
    "sync_allowed": "allowed a sync past its deletion threshold",
    "sync_finished": "finished a sync of the application",
    "account_reconciled": "reconciled an account with the target",
    "sso_sign_in_succeeded": "signed in through single sign-on",
    "sso_sign_in_refused": "was refused a single sign-on sign-in",
    "identity_provider_added": "added an identity provider",
    "identity_provider_changed": "changed an identity provider",
    "identity_provider_removed": "removed an identity provider",
}
MODE_LABELS = {
    "create": "Create new account",
    "update": "Update existing account",
    "remove": "Remove existing account",
}

ORIGIN_LABELS = {
    "cart": "Requested (cart)",
    "group": "Group membership",
    "admin": "Assigned by an administrator",
    "leaver": "Leaver (deactivation)",
    "sync": "Sync (reconciling with the target)",
}


@bp.app_template_filter("origin_label")
def origin_label(origin: str) -> str:
    return ORIGIN_LABELS.get(origin, (origin or "").replace("_", " "))


@bp.app_template_filter("person")
def person(user) -> str:
    if user is None:
        return "accessflow"
    return user.display_name or user.username


@bp.app_template_filter("when")
def when(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else ""


@bp.app_template_filter("ends")
def ends(moment) -> str:
    """When time-bound access ends: "through 2026-12-31" (a date's end) or the exact time."""
    from engine.requests.end_dates import describe

    return describe(moment) if moment else ""


@bp.app_template_filter("status_label")
def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, (status or "").replace("_", " "))


@bp.app_template_filter("event_label")
def event_label(event: str) -> str:
    return EVENT_LABELS.get(event, (event or "").replace("_", " "))


@bp.app_template_filter("mode_label")
def mode_label(mode: str) -> str:
    return MODE_LABELS.get(mode, mode)


@bp.app_template_filter("capped_count")
def capped_count(count: int | None) -> str:
    """A count the inbox stopped at its cap reads "1,000+" rather than a number it never read."""
    if not count:
        return ""
    return f"{inbox.COUNT_CAP:,}+" if count > inbox.COUNT_CAP else f"{count:,}"


@bp.app_template_filter("plain")
def plain(value) -> str:
    """A value from a connector as words: yes/no, a list joined, nothing as a dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value if v is not None) or "none"
    return f"{value:,}" if isinstance(value, int) else str(value)
