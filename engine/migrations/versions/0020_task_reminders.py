"""reminders and escalation of waiting tasks, per application

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("applications") as batch_op:
        batch_op.add_column(sa.Column("reminder_before", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("escalate_after", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("escalation_group_id", sa.String(length=36), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_applications_escalation_group_id_groups"),
            "groups",
            ["escalation_group_id"],
            ["id"],
        )
    with op.batch_alter_table("human_tasks") as batch_op:
        batch_op.add_column(sa.Column("reminded_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("escalated_at", sa.DateTime(), nullable=True))
    op.create_index(
        "ix_human_tasks_remind",
        "human_tasks",
        ["application_id", "status", "reminded_at", "due_at"],
    )
    op.create_index(
        "ix_human_tasks_escalate",
        "human_tasks",
        ["application_id", "status", "escalated_at", "created_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_human_tasks_escalate", table_name="human_tasks")
    op.drop_index("ix_human_tasks_remind", table_name="human_tasks")
    with op.batch_alter_table("human_tasks") as batch_op:
        batch_op.drop_column("escalated_at")
        batch_op.drop_column("reminded_at")
    with op.batch_alter_table("applications") as batch_op:
        batch_op.drop_constraint(
            op.f("fk_applications_escalation_group_id_groups"), type_="foreignkey"
        )
        batch_op.drop_column("escalation_group_id")
        batch_op.drop_column("escalate_after")
        batch_op.drop_column("reminder_before")
