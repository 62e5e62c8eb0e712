"""Work a worker does outside any web request: calls to target systems."""

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import Model, new_id, utcnow
from engine.models.access import RequestItem

if TYPE_CHECKING:
    from engine.models.workflow import ProcessInstance


class ProvisioningJob(Model):
    """Written in the same transaction as the workflow step that needs it; leased by a worker."""

    __tablename__ = "provisioning_jobs"
    __table_args__ = (
        Index("ix_provisioning_jobs_due", "status", "next_run_at"),
        # Never two jobs of one instance at once, whatever the workers race on.
        Index(
            "uq_provisioning_jobs_running_instance",
            "instance_id",
            unique=True,
            sqlite_where=text("status = 'running'"),
            postgresql_where=text("status = 'running'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    item_id: Mapped[str] = mapped_column(ForeignKey("request_items.id"), index=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instances.id"), index=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("applications.id"), index=True)
    spiff_task_id: Mapped[str] = mapped_column(String(36))
    operation: Mapped[str] = mapped_column(String(50))
    params: Mapped[dict | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=5)
    next_run_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    item: Mapped[RequestItem] = relationship()
    # Declared so the unit of work inserts the instance before a job queued in the same flush.
    instance: Mapped["ProcessInstance"] = relationship(lazy="raise")
