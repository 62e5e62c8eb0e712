"""Out of office: a person names a substitute for a period."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Model, new_id, utcnow


class Substitution(Model):
    """While it runs (starts_at ≤ now < ends_at, not ended), `substitute` may act on every task
    `user` may act on; what they decide is recorded as "substitute for user"."""

    __tablename__ = "substitutions"
    __table_args__ = (Index("ix_substitutions_substitute", "substitute_id", "ends_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    substitute_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column()
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    ended_at: Mapped[datetime | None] = mapped_column()
    ended_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
