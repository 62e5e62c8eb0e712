"""time-bound access: end dates on cart lines and items, an application's maximum, reminders

Revision ID: 0017
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0012"
branch_labels = None
depends_on = None

ENDING = "ended_at IS NULL AND ends_at IS NOT NULL"


def upgrade() -> None:
    op.add_column("cart_items", sa.Column("ends_at", sa.DateTime(), nullable=True))
    op.add_column("request_items", sa.Column("ends_at", sa.DateTime(), nullable=True))
    op.add_column("applications", sa.Column("max_duration", sa.String(40), nullable=True))
    op.add_column(
        "applications",
        sa.Column("require_end_date", sa.Boolean(), nullable=False, server_default="0"),
    )
    op.add_column("assignments", sa.Column("reminder_days", sa.Integer(), nullable=True))
    op.add_column("assignments", sa.Column("reminded_at", sa.DateTime(), nullable=True))
    # The full index on ends_at gives way to one on active rows only: ended rows keep their
    # (past) end date, and a scan for due ends would otherwise wade through all of them.
    op.drop_index("ix_assignments_ends_at", table_name="assignments")
    op.create_index(
        "ix_assignments_ending",
        "assignments",
        ["ends_at"],
        sqlite_where=sa.text(ENDING),
        postgresql_where=sa.text(ENDING),
    )


def downgrade() -> None:
    op.drop_index("ix_assignments_ending", table_name="assignments")
    op.create_index("ix_assignments_ends_at", "assignments", ["ends_at"])
    with op.batch_alter_table("assignments") as batch:
        batch.drop_column("reminded_at")
        batch.drop_column("reminder_days")
    with op.batch_alter_table("applications") as batch:
        batch.drop_column("require_end_date")
        batch.drop_column("max_duration")
    with op.batch_alter_table("request_items") as batch:
        batch.drop_column("ends_at")
    with op.batch_alter_table("cart_items") as batch:
        batch.drop_column("ends_at")
