"""list entry owner: whom an enterprise whitelist entry is registered to

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration (entries stored before it have no owner: plain list entries)."""
    with op.batch_alter_table("list_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner", sa.String(length=128), nullable=False,
                                      server_default=""))


def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table("list_entries", schema=None) as batch_op:
        batch_op.drop_column("owner")
