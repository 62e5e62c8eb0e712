"""Who is who: users, groups, applications, their accounts and API tokens."""

from datetime import datetime

from sqlalchemy import JSON, Column, ForeignKey, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from engine import encryption
from engine.db import Model, db, new_id, utcnow
from engine.encryption import SECRET_SETTINGS

ADMINS_GROUP = "admins"
DESIGNERS_GROUP = "designers"

group_members = Table(
    "group_members",
    db.metadata,
    Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class User(Model):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    display_name: Mapped[str | None] = mapped_column(String(200))
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    manager_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    department: Mapped[str | None] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(200))
    deactivated_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Copied into the browser session at login; signing out or a new password bumps it, so every
    # session cookie issued before stops working on the server (not only in that browser).
    session_version: Mapped[int] = mapped_column(default=1, server_default="1")
    # How they hear of new tasks (engine/audit/digests.py): digest | immediate | none; and
    # since when a digest is owed to them (the worker's scan marks it), when the last one went.
    task_notices: Mapped[str] = mapped_column(String(20), default="digest", server_default="digest")
    digest_pending_since: Mapped[datetime | None] = mapped_column(index=True)
    last_digest_at: Mapped[datetime | None] = mapped_column()
    # Kept for the inbound SCIM server (engine/scim): the IdP's own id of the person, the SCIM
    # attributes accessflow has no column for (returned as they came), when SCIM last changed
    # the person, and when an IdP deleted them (a leaver whose row stays for the history).
    external_id: Mapped[str | None] = mapped_column(String(255), index=True)
    scim_attributes: Mapped[dict | None] = mapped_column(JSON)
    modified_at: Mapped[datetime | None] = mapped_column()
    scim_deleted_at: Mapped[datetime | None] = mapped_column()

    manager: Mapped["User | None"] = relationship(remote_side=[id])
    groups: Mapped[list["Group"]] = relationship(secondary=group_members, back_populates="members")

    @property
    def group_names(self) -> set[str]:
        return {g.name for g in self.groups}

    @property
    def is_admin(self) -> bool:
        return ADMINS_GROUP in self.group_names

    @property
    def is_designer(self) -> bool:
        return bool({ADMINS_GROUP, DESIGNERS_GROUP} & self.group_names)

    def as_directory_entry(self) -> dict:
        """The attributes connectors map onto a target system's account."""
        return {
            "id": self.id,
            "username": self.username,
            "email": self.email,
            "display_name": self.display_name,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "department": self.department,
            "title": self.title,
            "active": self.active,
        }


class Group(Model):
    __tablename__ = "groups"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(150), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    # The inbound SCIM server's bookkeeping, as on User.
    external_id: Mapped[str | None] = mapped_column(String(255), index=True)
    created_at: Mapped[datetime | None] = mapped_column(default=utcnow)
    modified_at: Mapped[datetime | None] = mapped_column()
    scim_deleted_at: Mapped[datetime | None] = mapped_column()
    members: Mapped[list[User]] = relationship(secondary=group_members, back_populates="groups")


class Application(Model):
    __tablename__ = "applications"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(20))  # "connected" | "disconnected" | "sso"
    approver_group_id: Mapped[str | None] = mapped_column(ForeignKey("groups.id"))
    fulfiller_group_id: Mapped[str | None] = mapped_column(ForeignKey("groups.id"))
    workflow_key: Mapped[str] = mapped_column(String(100), default="access_request")
    connector_settings: Mapped[dict | None] = mapped_column(JSON)
    notification_email: Mapped[str | None] = mapped_column(String(320))
    # ISO-8601 duration an approval may wait before the request expires (None: the default).
    approval_timeout: Mapped[str | None] = mapped_column(String(40))
    enabled: Mapped[bool] = mapped_column(default=True)
    # Group grants create the account by connector (True) or hand it to the fulfillers (False);
    # the product-wide setting `group_auto_provisioning: all` turns it on for every app.
    group_auto_provisioning: Mapped[bool] = mapped_column(default=False, server_default="0")
    allow_multiple_accounts: Mapped[bool] = mapped_column(default=False, server_default="0")
    # [{"key", "name", "description"}]: what a person may hold in the app beyond an account.
    roles: Mapped[list | None] = mapped_column(JSON)
    # {origin or "origin:kind": process key} for items that do not come from the cart.
    workflows: Mapped[dict | None] = mapped_column(JSON)
    # The ApplicationOwner lane: a person or a group; other lanes mapped to groups by name.
    owner_user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    owner_group_id: Mapped[str | None] = mapped_column(ForeignKey("groups.id"))
    lanes: Mapped[dict | None] = mapped_column(JSON)
    # Waiting tasks (engine/tasks/reminders.py): a reminder this long before the due date, an
    # escalation this long after the task opened (ISO-8601 durations), and to whom.
    reminder_before: Mapped[str | None] = mapped_column(String(40))
    escalate_after: Mapped[str | None] = mapped_column(String(40))
    escalation_group_id: Mapped[str | None] = mapped_column(ForeignKey("groups.id"))
    quarantined_at: Mapped[datetime | None] = mapped_column()
    # Sync: ISO-8601 duration between runs (None: PT40M), its policy (engine.sync.policy), and
    # when the next scheduled run is due (None: now, the first full sync).
    sync_interval: Mapped[str | None] = mapped_column(String(40))
    sync_settings: Mapped[dict | None] = mapped_column(JSON)
    next_sync_at: Mapped[datetime | None] = mapped_column()
    # Time-bound access: the longest a request may ask for (ISO-8601 duration, None: no limit),
    # and whether every request must name an end date.
    max_duration: Mapped[str | None] = mapped_column(String(40))
    require_end_date: Mapped[bool] = mapped_column(default=False, server_default="0")

    approver_group: Mapped[Group | None] = relationship(foreign_keys=[approver_group_id])
    fulfiller_group: Mapped[Group | None] = relationship(foreign_keys=[fulfiller_group_id])

    @validates("connector_settings")
    def _seal_secrets(self, _name, settings: dict | None) -> dict | None:
        # Every write path stores secrets encrypted; they are revealed only to build a connector.
        return encryption.seal(settings)

    @property
    def role_names(self) -> dict[str, str]:
        """{role key: its name} of the roles the application declares."""
        return {r["key"]: r.get("name") or r["key"] for r in self.roles or []}

    def public_connector_settings(self) -> dict | None:
        """Connector settings with every secret replaced by a marker: safe to show or log."""
        if self.connector_settings is None:
            return None
        return {
            k: ("********" if k in SECRET_SETTINGS and v else v)
            for k, v in self.connector_settings.items()
        }


class Account(Model):
    """An account a user holds in an application; ended, never deleted, so history stays."""

    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("applications.id"), index=True)
    external_id: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(20), default="active")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    request_item_id: Mapped[str | None] = mapped_column(String(36))
    # provisioned (a connector created it), linked (it existed and was matched), recorded (a
    # fulfiller made it by hand and typed its id)
    origin: Mapped[str] = mapped_column(String(20), default="recorded", server_default="recorded")
    ended_at: Mapped[datetime | None] = mapped_column()
    ended_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    ended_reason: Mapped[str | None] = mapped_column(Text)

    application: Mapped[Application] = relationship(lazy="joined")


class ApiToken(Model):
    """A bearer token; only its SHA-256 is stored, so a database leak reveals no token."""

    __tablename__ = "api_tokens"
    __table_args__ = (UniqueConstraint("token_hash"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()

    user: Mapped[User] = relationship(lazy="joined")
