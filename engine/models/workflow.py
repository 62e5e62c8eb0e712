"""Deployed BPMN versions, running instances and the human tasks they wait on."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import Model, new_id, utcnow
from engine.models.access import RequestItem


class WorkflowVersion(Model):
    """One deployed BPMN file: instances point here instead of carrying the definition.

    A designer's deploy is a `draft` that never runs until someone else approves it (`active`);
    a reviewer may instead reject it, and any newer version of the process supersedes it.
    """

    __tablename__ = "workflow_versions"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    key: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int] = mapped_column()
    content_hash: Mapped[str] = mapped_column(String(64))
    bpmn_xml: Mapped[str] = mapped_column(Text, deferred=True)  # read once per process, on parse
    deployed_at: Mapped[datetime] = mapped_column(default=utcnow)
    deployed_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    # A row written without a status never runs; rows from before drafts existed were all live.
    status: Mapped[str] = mapped_column(String(20), default="draft", server_default="active")
    # Who approved or rejected the draft, when and why (empty for operator deploys).
    reviewed_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column()
    review_comment: Mapped[str | None] = mapped_column(Text)


class ProcessInstance(Model):
    """The saved SpiffWorkflow state of one item; `version` refuses stale writes."""

    __tablename__ = "process_instances"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    item_id: Mapped[str] = mapped_column(ForeignKey("request_items.id"), unique=True)
    workflow_version_id: Mapped[str] = mapped_column(ForeignKey("workflow_versions.id"))
    state: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="running")
    version: Mapped[int] = mapped_column(default=1)
    # When the earliest BPMN timer of this instance falls due; the worker polls this index.
    next_timer_at: Mapped[datetime | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    item: Mapped[RequestItem] = relationship()
    # Read only to parse a version not yet cached in this process: no join on every load.
    workflow_version: Mapped[WorkflowVersion] = relationship()

    __mapper_args__ = {"version_id_col": version}


class HumanTask(Model):
    """A ready manual task, with the columns the inbox filters on copied in and indexed."""

    __tablename__ = "human_tasks"
    # In inbox order after each equality the inbox reads by (engine/tasks/inbox.py): a page is a
    # range of each index, never a sort of every open task.
    __table_args__ = (
        Index("ix_human_tasks_open_user", "status", "candidate_user_id", "created_at", "id"),
        Index("ix_human_tasks_open_group", "status", "candidate_group_id", "created_at", "id"),
        Index("ix_human_tasks_open_claimer", "status", "claimed_by_id", "created_at", "id"),
        Index("ix_human_tasks_open_created", "status", "created_at", "id"),
        # "Completed by me", newest first.
        Index("ix_human_tasks_completed_by", "completed_by_id", "completed_at", "id"),
        # The reminder and escalation scans: one range per application.
        Index("ix_human_tasks_remind", "application_id", "status", "reminded_at", "due_at"),
        Index("ix_human_tasks_escalate", "application_id", "status", "escalated_at", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instances.id"), index=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("request_items.id"), index=True)
    spiff_task_id: Mapped[str] = mapped_column(String(36))
    spec_name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300))
    lane: Mapped[str | None] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(30), default="approval")
    candidate_user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    candidate_group_id: Mapped[str | None] = mapped_column(ForeignKey("groups.id"))
    # Copied from the item: separation of duties is checked without a join.
    requester_id: Mapped[str] = mapped_column(String(36))
    beneficiary_id: Mapped[str] = mapped_column(String(36))
    application_id: Mapped[str] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(20), default="open")
    claimed_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    claimed_at: Mapped[datetime | None] = mapped_column()
    due_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column()
    completed_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    decision: Mapped[str | None] = mapped_column(String(20))
    reminded_at: Mapped[datetime | None] = mapped_column()
    escalated_at: Mapped[datetime | None] = mapped_column()
    comment: Mapped[str | None] = mapped_column(Text)

    item: Mapped[RequestItem] = relationship(lazy="joined")
    # Orders a new task's INSERT after its new instance's in one flush.
    instance: Mapped[ProcessInstance] = relationship()
