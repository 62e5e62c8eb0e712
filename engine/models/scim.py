"""Bearer tokens of the inbound SCIM server: one per identity provider, named by an admin."""

from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Model, new_id, utcnow


class ScimToken(Model):
    """Only the token's SHA-256 is stored; the name is what the audit shows as the actor."""

    __tablename__ = "scim_tokens"
    __table_args__ = (UniqueConstraint("token_hash"), UniqueConstraint("name"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
