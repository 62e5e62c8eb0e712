"""provisioning log and incidents; one running job per instance

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 08:08:57.634368
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "provisioning_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("application_id", sa.String(length=36), nullable=False),
        sa.Column("item_id", sa.String(length=36), nullable=True),
        sa.Column("job_id", sa.String(length=36), nullable=True),
        sa.Column("user_id", sa.String(length=36), nullable=True),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("operation", sa.String(length=50), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("worker", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_provisioning_log_application_id_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_provisioning_log_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provisioning_log")),
    )
    with op.batch_alter_table("provisioning_log", schema=None) as batch_op:
        batch_op.create_index("ix_provisioning_log_app_at", ["application_id", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_provisioning_log_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_provisioning_log_item_id"), ["item_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_provisioning_log_job_id"), ["job_id"], unique=False)

    op.create_table(
        "incidents",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("application_id", sa.String(length=36), nullable=False),
        sa.Column("item_id", sa.String(length=36), nullable=True),
        sa.Column("job_id", sa.String(length=36), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("notified_at", sa.DateTime(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.Column("resolved_by_id", sa.String(length=36), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_incidents_application_id_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["request_items.id"], name=op.f("fk_incidents_item_id_request_items")
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["provisioning_jobs.id"], name=op.f("fk_incidents_job_id_provisioning_jobs")
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by_id"], ["users.id"], name=op.f("fk_incidents_resolved_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incidents_application_id"), ["application_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_incidents_item_id"), ["item_id"], unique=False)
        batch_op.create_index("ix_incidents_status_created", ["status", "created_at"], unique=False)

    with op.batch_alter_table("provisioning_jobs", schema=None) as batch_op:
        batch_op.create_index(
            "uq_provisioning_jobs_running_instance",
            ["instance_id"],
            unique=True,
            sqlite_where=sa.text("status = 'running'"),
            postgresql_where=sa.text("status = 'running'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("provisioning_jobs", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_provisioning_jobs_running_instance",
            sqlite_where=sa.text("status = 'running'"),
            postgresql_where=sa.text("status = 'running'"),
        )

    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index("ix_incidents_status_created")
        batch_op.drop_index(batch_op.f("ix_incidents_item_id"))
        batch_op.drop_index(batch_op.f("ix_incidents_application_id"))

    op.drop_table("incidents")
    with op.batch_alter_table("provisioning_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_provisioning_log_job_id"))
        batch_op.drop_index(batch_op.f("ix_provisioning_log_item_id"))
        batch_op.drop_index(batch_op.f("ix_provisioning_log_at"))
        batch_op.drop_index("ix_provisioning_log_app_at")

    op.drop_table("provisioning_log")
