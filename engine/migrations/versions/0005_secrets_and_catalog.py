"""secrets at rest and directory import (issue 9 parts 7-8)

Connector secrets stored in clear are encrypted with the newest configured key (a data change
only: the column stays JSON; an encrypted value carries the "fernet:" prefix).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from engine import encryption

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

applications = sa.table(
    "applications",
    sa.column("id", sa.String),
    sa.column("key", sa.String),
    sa.column("connector_settings", sa.JSON),
)


def upgrade() -> None:
    _rewrite(lambda settings, _key: encryption.seal(settings), encryption.has_plaintext)


def downgrade() -> None:
    # Revision 0004's code reads secrets in clear.
    _rewrite(encryption.reveal, lambda settings: any(map(encryption.is_sealed, settings.values())))


def _rewrite(change, needed) -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(applications.c.id, applications.c.key, applications.c.connector_settings)
    ).all()
    for row in rows:
        if isinstance(row.connector_settings, dict) and needed(row.connector_settings):
            connection.execute(
                applications.update()
                .where(applications.c.id == row.id)
                .values(connector_settings=change(row.connector_settings, row.key))
            )
