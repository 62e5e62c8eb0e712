"""access lifecycle: assignments, group grants, queued group changes, settings (issue 11)

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _when() -> sa.Column:
    return sa.Column("created_at", sa.DateTime(), nullable=False)


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("department", sa.String(200), nullable=True))
        batch.add_column(sa.Column("title", sa.String(200), nullable=True))
        batch.add_column(sa.Column("deactivated_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("groups") as batch:
        batch.add_column(sa.Column("description", sa.Text(), nullable=True))
    with op.batch_alter_table("applications") as batch:
        batch.add_column(
            sa.Column("group_auto_provisioning", sa.Boolean(), server_default="0", nullable=False)
        )
        batch.add_column(
            sa.Column("allow_multiple_accounts", sa.Boolean(), server_default="0", nullable=False)
        )
        batch.add_column(sa.Column("roles", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("workflows", sa.JSON(), nullable=True))
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(
            sa.Column("origin", sa.String(20), server_default="recorded", nullable=False)
        )
        batch.add_column(sa.Column("ended_by_id", sa.String(36), nullable=True))
        batch.add_column(sa.Column("ended_reason", sa.Text(), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_accounts_ended_by_id_users"), "users", ["ended_by_id"], ["id"]
        )
    # Accounts a connector made carry the provisioning job that made them in the log; those
    # recorded before this migration keep "recorded" unless a log row says otherwise.
    op.execute(
        "UPDATE accounts SET origin = 'provisioned' WHERE external_id IN "
        "(SELECT external_id FROM provisioning_log WHERE outcome = 'created' "
        "AND provisioning_log.application_id = accounts.application_id)"
    )
    op.execute(
        "UPDATE accounts SET origin = 'linked' WHERE external_id IN "
        "(SELECT external_id FROM provisioning_log WHERE outcome = 'linked' "
        "AND provisioning_log.application_id = accounts.application_id)"
    )
    with op.batch_alter_table("cart_items") as batch:
        batch.add_column(sa.Column("role", sa.String(100), nullable=True))
        batch.add_column(sa.Column("account_id", sa.String(36), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_cart_items_account_id_accounts"), "accounts", ["account_id"], ["id"]
        )
    with op.batch_alter_table("request_items") as batch:
        batch.add_column(sa.Column("origin", sa.String(20), server_default="cart", nullable=False))
        batch.add_column(sa.Column("role", sa.String(100), nullable=True))
        batch.add_column(sa.Column("assignment_id", sa.String(36), nullable=True))
        batch.alter_column("request_id", existing_type=sa.String(36), nullable=True)

    op.create_table(
        "assignments",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("application_id", sa.String(36), nullable=False),
        sa.Column("role", sa.String(100), nullable=True),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("source_id", sa.String(36), nullable=True),
        sa.Column("active_key", sa.String(160), nullable=True),
        sa.Column("item_id", sa.String(36), nullable=True),
        _when(),
        sa.Column("created_by_id", sa.String(36), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("starts_at", sa.DateTime(), nullable=False),
        sa.Column("ends_at", sa.DateTime(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("ended_by_id", sa.String(36), nullable=True),
        sa.Column("ended_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name="fk_assignments_application_id_applications",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name="fk_assignments_created_by_id_users"
        ),
        sa.ForeignKeyConstraint(
            ["ended_by_id"], ["users.id"], name="fk_assignments_ended_by_id_users"
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["request_items.id"], name="fk_assignments_item_id_request_items"
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_assignments_user_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_assignments"),
        sa.UniqueConstraint("active_key", name="uq_assignments_active_key"),
    )
    op.create_index(
        "ix_assignments_holder", "assignments", ["user_id", "application_id", "ended_at"]
    )
    op.create_index("ix_assignments_application", "assignments", ["application_id", "ended_at"])
    op.create_index("ix_assignments_source", "assignments", ["source", "source_id", "ended_at"])
    op.create_index("ix_assignments_ends_at", "assignments", ["ends_at"])

    op.create_table(
        "group_applications",
        sa.Column("group_id", sa.String(36), nullable=False),
        sa.Column("application_id", sa.String(36), nullable=False),
        sa.Column("role", sa.String(100), nullable=True),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.Column("added_by_id", sa.String(36), nullable=True),
        sa.ForeignKeyConstraint(
            ["added_by_id"], ["users.id"], name="fk_group_applications_added_by_id_users"
        ),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name="fk_group_applications_application_id_applications",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name="fk_group_applications_group_id_groups",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", "application_id", name="pk_group_applications"),
    )

    op.create_table(
        "access_changes",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("group_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("requested_by_id", sa.String(36), nullable=True),
        _when(),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("lease_owner", sa.String(100), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name="fk_access_changes_group_id_groups",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"], ["users.id"], name="fk_access_changes_requested_by_id_users"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_access_changes"),
    )
    op.create_index("ix_access_changes_due", "access_changes", ["status", "created_at"])
    op.create_index("ix_access_changes_group_id", "access_changes", ["group_id"])
    op.create_index(
        "uq_access_changes_queued_group",
        "access_changes",
        ["group_id"],
        unique=True,
        sqlite_where=sa.text("status = 'queued'"),
        postgresql_where=sa.text("status = 'queued'"),
    )

    op.create_table(
        "settings",
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by_id", sa.String(36), nullable=True),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["users.id"], name="fk_settings_updated_by_id_users"
        ),
        sa.PrimaryKeyConstraint("key", name="pk_settings"),
    )

    # Every account held today came from a request: give each its assignment, so "who has
    # what" starts out true.
    op.execute(
        "INSERT INTO assignments (id, user_id, application_id, source, active_key, item_id, "
        "created_at, reason, starts_at) "
        "SELECT MIN(a.id), a.user_id, a.application_id, 'request', "
        "a.user_id || ':' || a.application_id || ':request:-', MIN(a.request_item_id), "
        "MIN(a.created_at), 'held before assignments existed', MIN(a.created_at) "
        "FROM accounts a WHERE a.ended_at IS NULL AND a.status = 'active' "
        "GROUP BY a.user_id, a.application_id"
    )


def downgrade() -> None:
    op.drop_table("settings")
    op.drop_index("uq_access_changes_queued_group", table_name="access_changes")
    op.drop_index("ix_access_changes_group_id", table_name="access_changes")
    op.drop_index("ix_access_changes_due", table_name="access_changes")
    op.drop_table("access_changes")
    op.drop_table("group_applications")
    for name in ("ends_at", "source", "application", "holder"):
        op.drop_index(f"ix_assignments_{name}", table_name="assignments")
    op.drop_table("assignments")
    with op.batch_alter_table("request_items") as batch:
        batch.alter_column("request_id", existing_type=sa.String(36), nullable=False)
        batch.drop_column("assignment_id")
        batch.drop_column("role")
        batch.drop_column("origin")
    with op.batch_alter_table("cart_items") as batch:
        batch.drop_constraint(batch.f("fk_cart_items_account_id_accounts"), type_="foreignkey")
        batch.drop_column("account_id")
        batch.drop_column("role")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_constraint(batch.f("fk_accounts_ended_by_id_users"), type_="foreignkey")
        batch.drop_column("ended_reason")
        batch.drop_column("ended_by_id")
        batch.drop_column("origin")
    with op.batch_alter_table("applications") as batch:
        for column in ("workflows", "roles", "allow_multiple_accounts"):
            batch.drop_column(column)
        batch.drop_column("group_auto_provisioning")
    with op.batch_alter_table("groups") as batch:
        batch.drop_column("description")
    with op.batch_alter_table("users") as batch:
        for column in ("deactivated_at", "title", "department"):
            batch.drop_column(column)
