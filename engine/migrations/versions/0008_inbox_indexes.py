"""inbox indexes in page order (issue 10 part 4)

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# (name, the column after status) of the indexes the inbox reads pages from
BRANCHES = (
    ("ix_human_tasks_open_user", "candidate_user_id"),
    ("ix_human_tasks_open_group", "candidate_group_id"),
    ("ix_human_tasks_open_claimer", "claimed_by_id"),
)


def upgrade() -> None:
    for name, column in BRANCHES:
        op.drop_index(name, table_name="human_tasks")
        op.create_index(name, "human_tasks", ["status", column, "created_at", "id"])
    op.create_index("ix_human_tasks_open_created", "human_tasks", ["status", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_human_tasks_open_created", table_name="human_tasks")
    for name, column in BRANCHES:
        op.drop_index(name, table_name="human_tasks")
        op.create_index(name, "human_tasks", ["status", column])
