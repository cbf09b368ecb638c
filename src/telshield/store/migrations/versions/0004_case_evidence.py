"""case evidence: what a case's alerts said, so that a release holds until new evidence

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration (cases stored before it have no evidence: a later alert on a number
    released before it acts as it did then)."""
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("evidence", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("evidence")
