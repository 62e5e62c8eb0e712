"""lanes are roles: an application's owner (a person or a group) and its lane-to-group mapping

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("applications") as batch_op:
        batch_op.add_column(sa.Column("owner_user_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("owner_group_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("lanes", sa.JSON(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_applications_owner_user_id_users"), "users", ["owner_user_id"], ["id"]
        )
        batch_op.create_foreign_key(
            op.f("fk_applications_owner_group_id_groups"), "groups", ["owner_group_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("applications") as batch_op:
        batch_op.drop_constraint(op.f("fk_applications_owner_group_id_groups"), type_="foreignkey")
        batch_op.drop_constraint(op.f("fk_applications_owner_user_id_users"), type_="foreignkey")
        batch_op.drop_column("lanes")
        batch_op.drop_column("owner_group_id")
        batch_op.drop_column("owner_user_id")
