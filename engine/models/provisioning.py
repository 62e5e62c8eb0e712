"""What provisioning leaves behind: one log row per operation, and incidents for people."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import Model, new_id, utcnow
from engine.models.directory import Application, User

LOG_OUTCOMES = ("created", "linked", "updated", "removed", "retrying", "failed", "abandoned")
INCIDENT_KINDS = ("provisioning_failed", "quarantine", "workflow_failed")


class ProvisioningLog(Model):
    """One call to a target system, as an admin reads it; never holds a token or password."""

    __tablename__ = "provisioning_log"
    __table_args__ = (Index("ix_provisioning_log_app_at", "application_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("applications.id"))
    item_id: Mapped[str | None] = mapped_column(String(36), index=True)
    job_id: Mapped[str | None] = mapped_column(String(36), index=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    external_id: Mapped[str | None] = mapped_column(String(255))
    operation: Mapped[str] = mapped_column(String(50))
    outcome: Mapped[str] = mapped_column(String(20))
    attempt: Mapped[int] = mapped_column(default=1)
    duration_ms: Mapped[int] = mapped_column(default=0)
    http_status: Mapped[int | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(String(500))
    worker: Mapped[str | None] = mapped_column(String(100))

    application: Mapped[Application] = relationship(lazy="joined")
    user: Mapped[User | None] = relationship(lazy="joined")


class Incident(Model):
    """Something provisioning could not do by itself; open until a person retries or resolves."""

    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_status_created", "status", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(30))
    application_id: Mapped[str] = mapped_column(ForeignKey("applications.id"), index=True)
    item_id: Mapped[str | None] = mapped_column(ForeignKey("request_items.id"), index=True)
    job_id: Mapped[str | None] = mapped_column(ForeignKey("provisioning_jobs.id"))
    error: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="open")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    notified_at: Mapped[datetime | None] = mapped_column()
    resolved_at: Mapped[datetime | None] = mapped_column()
    resolved_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    resolution: Mapped[str | None] = mapped_column(Text)

    application: Mapped[Application] = relationship(lazy="joined")
    resolved_by: Mapped[User | None] = relationship(lazy="joined")

    def close(
        self, resolution: str, actor_id: str | None = None, at: datetime | None = None
    ) -> None:
        """Resolve the incident: the one place an incident is closed (`actor_id` None: the
        system closed it); the caller commits."""
        self.status, self.resolution = "resolved", resolution
        self.resolved_at, self.resolved_by_id = at or utcnow(), actor_id
