"""Separation of duties between applications: two that nobody may hold together."""

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import Model, new_id, utcnow
from engine.models.directory import Application


class SodRule(Model):
    """Holding (or having asked for) `first` and `second` together is a conflict."""

    __tablename__ = "sod_rules"
    __table_args__ = (UniqueConstraint("first_id", "second_id", name="uq_sod_rules_pair"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    first_id: Mapped[str] = mapped_column(ForeignKey("applications.id"), index=True)
    second_id: Mapped[str] = mapped_column(ForeignKey("applications.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    first: Mapped[Application] = relationship(foreign_keys=[first_id], lazy="joined")
    second: Mapped[Application] = relationship(foreign_keys=[second_id], lazy="joined")
