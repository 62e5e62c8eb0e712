"""task digests: how each person hears of new tasks, and when a digest is owed to them

Revision ID: 0018
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(
            sa.Column("task_notices", sa.String(length=20), nullable=False, server_default="digest")
        )
        batch_op.add_column(sa.Column("digest_pending_since", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("last_digest_at", sa.DateTime(), nullable=True))
    op.create_index("ix_users_digest_pending_since", "users", ["digest_pending_since"])


def downgrade() -> None:
    op.drop_index("ix_users_digest_pending_since", table_name="users")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("last_digest_at")
        batch_op.drop_column("digest_pending_since")
        batch_op.drop_column("task_notices")
