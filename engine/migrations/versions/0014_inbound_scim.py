"""inbound SCIM: external ids and SCIM bookkeeping on users and groups, SCIM tokens (issue 15)

Revision ID: 0014
Revises: 0023
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("external_id", sa.String(255), nullable=True))
        batch.add_column(sa.Column("scim_attributes", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("modified_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("scim_deleted_at", sa.DateTime(), nullable=True))
        batch.create_index("ix_users_external_id", ["external_id"])
    with op.batch_alter_table("groups") as batch:
        batch.add_column(sa.Column("external_id", sa.String(255), nullable=True))
        batch.add_column(sa.Column("created_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("modified_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("scim_deleted_at", sa.DateTime(), nullable=True))
        batch.create_index("ix_groups_external_id", ["external_id"])
    op.create_table(
        "scim_tokens",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_scim_tokens"),
        sa.UniqueConstraint("name", name="uq_scim_tokens_name"),
        sa.UniqueConstraint("token_hash", name="uq_scim_tokens_token_hash"),
    )


def downgrade() -> None:
    op.drop_table("scim_tokens")
    with op.batch_alter_table("groups") as batch:
        batch.drop_index("ix_groups_external_id")
        for column in ("scim_deleted_at", "modified_at", "created_at", "external_id"):
            batch.drop_column(column)
    with op.batch_alter_table("users") as batch:
        batch.drop_index("ix_users_external_id")
        for column in ("scim_deleted_at", "modified_at", "scim_attributes", "external_id"):
            batch.drop_column(column)
