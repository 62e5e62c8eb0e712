"""The outbox: notices to people about their access, written with the change that causes them
and sent by the worker."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import Model, new_id, utcnow
from engine.models.access import RequestItem

# pending: to send at due_at (again, after a failure); sent; skipped (no address to send to);
# failed (gave up after the last attempt).
NOTICE_STATUSES = ("pending", "sent", "skipped", "failed")


class Notice(Model):
    """One mail to one person. The address is copied when the notice is written: the mail goes
    where the person could be reached when the change happened."""

    __tablename__ = "notices"
    __table_args__ = (Index("ix_notices_due", "status", "due_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    recipient_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    recipient_email: Mapped[str | None] = mapped_column(String(320))
    kind: Mapped[str] = mapped_column(String(50))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    item_id: Mapped[str | None] = mapped_column(ForeignKey("request_items.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)

    # Declared so the unit of work inserts an item before a notice about it in the same flush.
    item: Mapped[RequestItem | None] = relationship(lazy="raise")
