"""A request item before it is written: the one place that decides a new item's columns.

A cart line, a group grant, an admin's assignment and a leaver's removal all open their items
through `ItemDraft`; `build()` makes the ORM row, `columns()` the values a batch INSERT writes.
"""

from dataclasses import dataclass, field
from datetime import datetime

from engine.db import new_id, utcnow
from engine.models import AccessRequest, Application, RequestItem, User
from engine.models.access import KINDS


@dataclass(eq=False, slots=True)
class ItemDraft:
    """What a new item holds; it reads like a RequestItem to the code that starts its process
    (the workflow's initial data, the task candidates, the audit trail)."""

    requester: User
    beneficiary: User
    application: Application
    account_mode: str = "create"
    origin: str = "cart"
    role: str | None = None
    justification: str | None = None
    assignment_id: str | None = None
    account_id: str | None = None
    request: AccessRequest | None = None
    position: int = 0
    ends_at: datetime | None = None  # time-bound access: when what it grants ends
    status: str = "pending_approval"
    id: str = field(default_factory=new_id)

    @property
    def request_id(self) -> str | None:
        return self.request.id if self.request is not None else None

    @property
    def requester_id(self) -> str:
        return self.requester.id

    @property
    def beneficiary_id(self) -> str:
        return self.beneficiary.id

    @property
    def application_id(self) -> str:
        return self.application.id

    @property
    def open_key(self) -> str:
        """One open item per beneficiary and application (a unique column)."""
        return f"{self.beneficiary.id}:{self.application.id}"

    @property
    def kind(self) -> str:
        return KINDS.get(self.account_mode, "grant")

    def columns(self) -> dict:
        """The row, for an INSERT of many."""
        now = utcnow()
        return {
            "id": self.id,
            "request_id": self.request_id,
            "position": self.position,
            "requester_id": self.requester.id,
            "beneficiary_id": self.beneficiary.id,
            "application_id": self.application.id,
            "account_mode": self.account_mode,
            "origin": self.origin,
            "role": self.role,
            "assignment_id": self.assignment_id,
            "justification": self.justification,
            "status": self.status,
            "open_key": self.open_key,
            "outcome_reason": None,
            "account_id": self.account_id,
            "ends_at": self.ends_at,
            "created_at": now,
            "updated_at": now,
            "finished_at": None,
        }

    def build(self) -> RequestItem:
        """The ORM row (not yet added to the session), joined to its request if it has one."""
        item = RequestItem(
            id=self.id,
            request_id=self.request_id,
            position=self.position,
            requester_id=self.requester.id,
            requester=self.requester,
            beneficiary_id=self.beneficiary.id,
            beneficiary=self.beneficiary,
            application_id=self.application.id,
            application=self.application,
            account_mode=self.account_mode,
            origin=self.origin,
            role=self.role,
            assignment_id=self.assignment_id,
            account_id=self.account_id,
            justification=self.justification,
            open_key=self.open_key,
            ends_at=self.ends_at,
        )
        if self.request is not None:
            item.request = self.request
        return item
