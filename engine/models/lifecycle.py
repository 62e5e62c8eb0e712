"""The life of access: who should hold what (assignments), what groups grant, queued changes."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import Model, new_id, utcnow
from engine.models.directory import Application, Group, User

SOURCES = ("request", "group", "admin", "campaign")


class Assignment(Model):
    """A person should hold an application (optionally one of its roles), from one source.

    Never edited in place nor deleted: a change ends the row (who, when, why) and starts another.
    A person may hold one application from several sources; the access goes when the last ends.
    """

    __tablename__ = "assignments"
    __table_args__ = (
        Index("ix_assignments_holder", "user_id", "application_id", "ended_at"),
        Index("ix_assignments_application", "application_id", "ended_at"),
        Index("ix_assignments_source", "source", "source_id", "ended_at"),
        # The expiry and reminder scans read only active rows by end date: they stay cheap
        # however many assignments have ended.
        Index(
            "ix_assignments_ending",
            "ends_at",
            sqlite_where=text("ended_at IS NULL AND ends_at IS NOT NULL"),
            postgresql_where=text("ended_at IS NULL AND ends_at IS NOT NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    application_id: Mapped[str] = mapped_column(ForeignKey("applications.id"))
    role: Mapped[str | None] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(20))  # request | group | admin | campaign
    # The group for a group grant; None for the other sources.
    source_id: Mapped[str | None] = mapped_column(String(36))
    # Set while active, NULL once ended: one active row per person, app and source, even when
    # two changes race.
    active_key: Mapped[str | None] = mapped_column(String(160), unique=True)
    item_id: Mapped[str | None] = mapped_column(ForeignKey("request_items.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    starts_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Read through ix_assignments_ending (active rows only) by the expiry and reminder scans.
    ends_at: Mapped[datetime | None] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    ended_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    ended_reason: Mapped[str | None] = mapped_column(Text)
    # The smallest "days before the end" reminder already sent (None: none yet), so each
    # reminder goes once, and when it went.
    reminder_days: Mapped[int | None] = mapped_column()
    reminded_at: Mapped[datetime | None] = mapped_column()

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    application: Mapped[Application] = relationship(lazy="joined")
    group: Mapped[Group | None] = relationship(
        primaryjoin="foreign(Assignment.source_id) == Group.id", viewonly=True
    )

    @property
    def is_active(self) -> bool:
        return self.ended_at is None


def active_key(user_id: str, application_id: str, source: str, source_id: str | None) -> str:
    return f"{user_id}:{application_id}:{source}:{source_id or '-'}"


class GroupApplication(Model):
    """An application (optionally one of its roles) that every member of a group should hold."""

    __tablename__ = "group_applications"

    group_id: Mapped[str] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
    )
    application_id: Mapped[str] = mapped_column(ForeignKey("applications.id"), primary_key=True)
    role: Mapped[str | None] = mapped_column(String(100))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    added_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))

    application: Mapped[Application] = relationship(lazy="joined")


class AccessChange(Model):
    """A group whose access must be brought in line with its members and applications.

    Written by the change (a join, a leave, an app added) in the change's transaction; applied
    there when small, else by a worker that leases it. Applying is idempotent: it compares what
    the group grants with the assignments it holds, so a crash or a second run does no harm.
    """

    __tablename__ = "access_changes"
    __table_args__ = (
        Index("ix_access_changes_due", "status", "created_at"),
        # At most one queued change per group: later changes fold into it.
        Index(
            "uq_access_changes_queued_group",
            "group_id",
            unique=True,
            sqlite_where=text("status = 'queued'"),
            postgresql_where=text("status = 'queued'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    group_id: Mapped[str] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="queued")  # queued|running|done|failed
    reason: Mapped[str | None] = mapped_column(Text)
    requested_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None] = mapped_column()
    attempts: Mapped[int] = mapped_column(default=0)
    counts: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)


class Setting(Model):
    """A product-wide setting an admin changes (e.g. group_auto_provisioning)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[dict | list | str | bool | int | None] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
