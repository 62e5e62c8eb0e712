"""the tasks a person decided, newest first: an index for the "completed by me" list

Revision ID: 0016
Revises: 0011
"""

from alembic import op

revision = "0016"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_human_tasks_completed_by", "human_tasks", ["completed_by_id", "completed_at", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_human_tasks_completed_by", table_name="human_tasks")
