"""What people ask for: cart lines, submitted requests and their items."""

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import Model, new_id, utcnow
from engine.models.directory import Application, User

STATUSES = (
    "pending_approval",
    "pending_fulfillment",
    "provisioning",
    "failed",  # auto-provisioning gave up; still open while people handle the failure task
    "fulfilled",
    "rejected",
    "cancelled",
)
ACCOUNT_MODES = ("create", "update", "remove", "link")
# Where an item comes from: a person's cart, or a change in the directory or the access it holds.
ORIGINS = ("cart", "group", "admin", "leaver", "expiry", "review", "sync", "campaign")
KINDS = {"create": "grant", "link": "grant", "update": "update", "remove": "remove"}


class CartItem(Model):
    __tablename__ = "cart_items"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("applications.id"))
    beneficiary_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    account_mode: Mapped[str] = mapped_column(String(20), default="create")
    role: Mapped[str | None] = mapped_column(String(100))
    # The account an update or a removal is about, when the person holds several.
    account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id"))
    justification: Mapped[str | None] = mapped_column(Text)
    # When the access asked for ends (naive UTC); None: no end.
    ends_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    application: Mapped[Application] = relationship(lazy="joined")
    beneficiary: Mapped[User] = relationship(foreign_keys=[beneficiary_id], lazy="joined")


class AccessRequest(Model):
    """One submitted cart. The idempotency key makes a retried submit return the first answer."""

    __tablename__ = "access_requests"
    __table_args__ = (UniqueConstraint("requester_id", "idempotency_key"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    requester_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)

    requester: Mapped[User] = relationship(lazy="joined")
    items: Mapped[list["RequestItem"]] = relationship(
        back_populates="request", order_by="RequestItem.position", lazy="selectin"
    )


class RequestItem(Model):
    """One application for one beneficiary; runs its own process instance."""

    __tablename__ = "request_items"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    # None for an item that no cart asked for (a group grant, a leaver's removal, ...).
    request_id: Mapped[str | None] = mapped_column(ForeignKey("access_requests.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    requester_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    beneficiary_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("applications.id"), index=True)
    account_mode: Mapped[str] = mapped_column(String(20), default="create")
    origin: Mapped[str] = mapped_column(String(20), default="cart", server_default="cart")
    role: Mapped[str | None] = mapped_column(String(100))
    # The assignment this item grants or removes (a cart grant gets it when it is fulfilled).
    assignment_id: Mapped[str | None] = mapped_column(String(36))
    justification: Mapped[str | None] = mapped_column(Text)
    # When the access it grants ends (naive UTC): the assignment's ends_at once fulfilled.
    ends_at: Mapped[datetime | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(30), default="pending_approval", index=True)
    # Set while the item is open, NULL once final: a unique index makes "one open request per
    # beneficiary and application" hold even under concurrent submits.
    open_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    outcome_reason: Mapped[str | None] = mapped_column(Text)
    account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()

    request: Mapped[AccessRequest | None] = relationship(back_populates="items")
    application: Mapped[Application] = relationship(lazy="joined")
    beneficiary: Mapped[User] = relationship(foreign_keys=[beneficiary_id], lazy="joined")
    requester: Mapped[User] = relationship(foreign_keys=[requester_id], lazy="joined")

    @property
    def kind(self) -> str:
        """grant, update or remove: what the item does to the person's access."""
        return KINDS.get(self.account_mode, "grant")

    @property
    def is_open(self) -> bool:
        return self.open_key is not None

    def finish(self, status: str, reason: str | None = None) -> None:
        """Move to a final status; frees the one-open-request slot."""
        self.status = status
        self.outcome_reason = reason
        self.open_key = None
        self.finished_at = utcnow()
