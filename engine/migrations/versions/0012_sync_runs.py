"""sync runs: per-application sync settings, runs and their report (issue 12)

Revision ID: 0012
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0014"
branch_labels = None
depends_on = None

ACTIVE = "status IN ('queued', 'running', 'waiting_approval')"


def upgrade() -> None:
    with op.batch_alter_table("applications") as batch:
        batch.add_column(sa.Column("sync_interval", sa.String(40), nullable=True))
        batch.add_column(sa.Column("sync_settings", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("next_sync_at", sa.DateTime(), nullable=True))
    op.create_table(
        "sync_runs",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("application_id", sa.String(36), nullable=False),
        sa.Column("trigger", sa.String(20), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("phase", sa.String(20), nullable=False),
        sa.Column("requested_by_id", sa.String(36), nullable=True),
        sa.Column("allowed_by_id", sa.String(36), nullable=True),
        sa.Column("allowed_at", sa.DateTime(), nullable=True),
        sa.Column("lease_owner", sa.String(100), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("cursor", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"], ["applications.id"], name="fk_sync_runs_application_id_applications"
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"], ["users.id"], name="fk_sync_runs_requested_by_id_users"
        ),
        sa.ForeignKeyConstraint(
            ["allowed_by_id"], ["users.id"], name="fk_sync_runs_allowed_by_id_users"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_sync_runs"),
    )
    op.create_index("ix_sync_runs_app_created", "sync_runs", ["application_id", "created_at"])
    op.create_index("ix_sync_runs_due", "sync_runs", ["status", "lease_expires_at"])
    op.create_index(
        "uq_sync_runs_active_application",
        "sync_runs",
        ["application_id"],
        unique=True,
        sqlite_where=sa.text(ACTIVE),
        postgresql_where=sa.text(ACTIVE),
    )
    op.create_table(
        "sync_operations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("external_id", sa.String(255), nullable=True),
        sa.Column("user_name", sa.String(255), nullable=True),
        sa.Column("user_id", sa.String(36), nullable=True),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=True),
        sa.Column("error", sa.String(500), nullable=True),
        sa.Column("log_id", sa.Integer(), nullable=True),
        sa.Column("item_id", sa.String(36), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["sync_runs.id"],
            name="fk_sync_operations_run_id_sync_runs",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_sync_operations_user_id_users"),
        sa.ForeignKeyConstraint(
            ["log_id"], ["provisioning_log.id"], name="fk_sync_operations_log_id_provisioning_log"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_sync_operations"),
    )
    op.create_index("ix_sync_operations_run", "sync_operations", ["run_id", "status", "id"])


def downgrade() -> None:
    op.drop_index("ix_sync_operations_run", table_name="sync_operations")
    op.drop_table("sync_operations")
    op.drop_index("uq_sync_runs_active_application", table_name="sync_runs")
    op.drop_index("ix_sync_runs_due", table_name="sync_runs")
    op.drop_index("ix_sync_runs_app_created", table_name="sync_runs")
    op.drop_table("sync_runs")
    with op.batch_alter_table("applications") as batch:
        batch.drop_column("next_sync_at")
        batch.drop_column("sync_settings")
        batch.drop_column("sync_interval")
