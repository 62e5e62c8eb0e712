"""out of office: substitutes who act for a person for a period

Revision ID: 0021
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "substitutions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("substitute_id", sa.String(length=36), nullable=False),
        sa.Column("starts_at", sa.DateTime(), nullable=False),
        sa.Column("ends_at", sa.DateTime(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by_id", sa.String(length=36), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("ended_by_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_substitutions_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["substitute_id"], ["users.id"], name=op.f("fk_substitutions_substitute_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_substitutions_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["ended_by_id"], ["users.id"], name=op.f("fk_substitutions_ended_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_substitutions")),
    )
    op.create_index("ix_substitutions_user_id", "substitutions", ["user_id"])
    op.create_index("ix_substitutions_substitute", "substitutions", ["substitute_id", "ends_at"])


def downgrade() -> None:
    op.drop_index("ix_substitutions_substitute", table_name="substitutions")
    op.drop_index("ix_substitutions_user_id", table_name="substitutions")
    op.drop_table("substitutions")
