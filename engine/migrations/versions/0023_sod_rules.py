"""separation of duties: pairs of applications nobody may hold together

Revision ID: 0023
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sod_rules",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("first_id", sa.String(length=36), nullable=False),
        sa.Column("second_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["first_id"], ["applications.id"], name=op.f("fk_sod_rules_first_id_applications")
        ),
        sa.ForeignKeyConstraint(
            ["second_id"], ["applications.id"], name=op.f("fk_sod_rules_second_id_applications")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sod_rules")),
        sa.UniqueConstraint("first_id", "second_id", name="uq_sod_rules_pair"),
        sa.UniqueConstraint("name", name=op.f("uq_sod_rules_name")),
    )
    op.create_index("ix_sod_rules_first_id", "sod_rules", ["first_id"])
    op.create_index("ix_sod_rules_second_id", "sod_rules", ["second_id"])


def downgrade() -> None:
    op.drop_index("ix_sod_rules_second_id", table_name="sod_rules")
    op.drop_index("ix_sod_rules_first_id", table_name="sod_rules")
    op.drop_table("sod_rules")
