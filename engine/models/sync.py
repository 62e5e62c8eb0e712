"""Sync runs: what reading a connected application's accounts found, and what it did."""

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import Model, new_id, utcnow
from engine.models.directory import Application, User

RUN_STATUSES = ("queued", "running", "succeeded", "failed", "waiting_approval")
ACTIVE_STATUSES = ("queued", "running", "waiting_approval")
COUNTS = (
    "read",
    "matched",
    "linked",
    "created",
    "updated",
    "disabled",
    "enabled",
    "orphans",
    "unassigned",
    "skipped",
    "errors",
)
# What a run does (or would do) to one account, and what it only reports.
ACTIONS = ("link", "update", "enable", "disable", "delete", "provision", "orphan", "unassigned",
           "skip")  # fmt: skip
OPERATION_STATUSES = ("planned", "done", "failed", "would", "reported")


class SyncRun(Model):
    """One reading of an application's accounts, compared with who should hold one.

    Taken by a worker under a lease; `phase` and `cursor` say where it stands, so a worker
    that takes over an expired lease resumes there, never redoing an operation done."""

    __tablename__ = "sync_runs"
    __table_args__ = (
        Index("ix_sync_runs_app_created", "application_id", "created_at"),
        Index("ix_sync_runs_due", "status", "lease_expires_at"),
        # One run in flight per application: two workers never run the same app.
        Index(
            "uq_sync_runs_active_application",
            "application_id",
            unique=True,
            sqlite_where=text("status IN ('queued', 'running', 'waiting_approval')"),
            postgresql_where=text("status IN ('queued', 'running', 'waiting_approval')"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    application_id: Mapped[str] = mapped_column(ForeignKey("applications.id"))
    trigger: Mapped[str] = mapped_column(String(20))  # scheduled | manual
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    phase: Mapped[str] = mapped_column(String(20), default="read")  # read|apply|provision|done
    requested_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    allowed_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    allowed_at: Mapped[datetime | None] = mapped_column()
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    counts: Mapped[dict] = mapped_column(JSON, default=dict)
    # {"accounts": accounts read so far, "assignment": last assignment id provisioned}
    cursor: Mapped[dict] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)

    application: Mapped[Application] = relationship(lazy="joined")
    requested_by: Mapped[User | None] = relationship(foreign_keys=[requested_by_id])
    allowed_by: Mapped[User | None] = relationship(foreign_keys=[allowed_by_id])


class SyncOperation(Model):
    """One line of a run's report: what was done (or would be) to which account, and why."""

    __tablename__ = "sync_operations"
    __table_args__ = (Index("ix_sync_operations_run", "run_id", "status", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("sync_runs.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str | None] = mapped_column(String(255))
    user_name: Mapped[str | None] = mapped_column(String(255))
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(String(500))
    changes: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(String(500))
    log_id: Mapped[int | None] = mapped_column(ForeignKey("provisioning_log.id"))
    item_id: Mapped[str | None] = mapped_column(String(36))
    at: Mapped[datetime] = mapped_column(default=utcnow)
