"""audit event names all in the past tense (issue 16, pages item 9)

Task decisions used to be recorded under the decision itself: "reject" and "retry" beside
"approved" and "fulfilled". Existing rows are renamed so the trail and the API's item history
read one way.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

RENAMED = {"reject": "rejected", "retry": "provisioning_retried"}

audit_events = sa.table("audit_events", sa.column("event", sa.String))


def _rename(names: dict[str, str]) -> None:
    for old, new in names.items():
        op.execute(audit_events.update().where(audit_events.c.event == old).values(event=new))


def upgrade() -> None:
    _rename(RENAMED)


def downgrade() -> None:
    # "rejected" rows were only ever written by task decisions, so the way back is exact.
    _rename({new: old for old, new in RENAMED.items()})
